// Base — what every Vigil module shares, and nothing more: wall time (one injected clock,
// `WallClock`, and the one way times are written and read, ISO 8601 UTC), lower-case hex,
// random tokens from the system's CSPRNG, the rule for text people type (`TextField`), and
// the error vocabulary (`ErrorCode`, `CodedError`, `VigilError`) that every module's
// errors speak, so that the server maps each code to one HTTP status in one place
// (`Server.APIError`).
// What does not belong: anything that knows about cameras, footage, users or a database.
// Base depends on Foundation only.
