// PTZ — steering the centre's PTZ cameras, beside Centre: who holds which camera
// (`ControlArbiter`: leases renewed by each command, released when idle, priorities by
// role), the commands as the centre checks, orders and keeps them (`CameraControl`: one
// lane per camera, the lease checked again just before each command goes, every command in
// the confidential `ptz_history`), the tours the server runs (`Tours`), adding a camera
// over ONVIF (`CameraOnboarding`), and finding cameras to add (`CameraFinder`: a
// WS-Discovery probe, each answer beside the camera already at its address).
//
// What belongs here: the centre's rules for PTZ and the orchestration that applies them.
// What does not: the ONVIF protocol (Onvif), SQL (Catalog), HTTP and audit entries
// (Server writes them, for routes; the tour routes too).
// Invariants: a camera has at most one holder at a time; a lease that has run out is gone
// before anyone is answered about it; a tour never takes a camera from a person; no
// position, velocity or preset name is logged below debug or written to the audit log.
