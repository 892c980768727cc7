// PTZ — the centre's rules for steering its PTZ cameras, apart from any protocol: who holds
// which camera (`ControlArbiter`: leases renewed by each command, released when idle,
// priorities by role), and what a command is as the centre keeps and checks it.
//
// What belongs here: policy with no I/O, so it can be tested with a moved clock. What does
// not: talking to cameras (Onvif), storage (Catalog), auditing and orchestration (Centre's
// `CameraControl`), HTTP (Server).
// Invariants: a camera has at most one holder at a time; a lease that has run out is gone
// before anyone is answered about it; a tour never takes a camera from a person.
