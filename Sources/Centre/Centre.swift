// Centre — the monitoring centre's domain, over Access (who may do what), Catalog (where it
// is stored) and Recording (the footage). It keeps these jobs, each in its own file:
// - the audit trail of who touched which imagery (`AuditTrail`, group-committed, signed
//   checkpoints), its vocabulary (`AuditActions`: every kind of entry) and its witnesses
//   (`AuditWitness`);
// - the site's keys (`SiteKeys`: the Ed25519 log key, sealing camera passwords), with
//   which Recording's `ChainHeads` signs the cameras' segment chains;
// - the camera registry and its rules (`CameraRegistry`, `CameraRules`) and the recorder
//   fleet that records every enabled camera (`RecorderFleet`, in Fleet.swift);
// - what was recorded as the server shows and serves it (`Footage`: a range's coverage
//   and gaps, its MP4 assembled on the fly, the recording volume's free space);
// - live fan-out to viewers and its fragmented MP4 (`LiveHub`, `LiveMuxer`, in Live.swift),
//   and the cameras' sub-streams pulled for small tiles while watched (`SubStreams`);
// - the operator's video wall: its layouts and the views users save (`WallLayout`,
//   `WallViews`, in Workstation.swift);
// - the evidence register: exhibits, holds, custody, sharing, signed exports
//   (`EvidenceRegister`, `ExportGate`) and the server's shelf of exported bundles
//   (`ExportShelf`).
// No HTTP, no SQL text: Centre decides, Catalog stores, Server speaks HTTP (and reaches
// storage only through the services above; rows travel as Records' plain values). PTZ control,
// incidents and anonymised releases are to come in modules of their own beside it
// (docs/ARCHITECTURE.md), not in here.
