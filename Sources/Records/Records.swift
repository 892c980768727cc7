// Records — the catalog's rows as plain values: cameras, segments and gaps, accounts,
// grants, sessions and tokens, audit entries and checkpoints, chain links and heads,
// exhibits and their custody, the workstation's saved wall views, the incident register.
//
// What belongs here: the row structs and nothing that reads or writes them. They sit below
// Catalog so that the modules above the domain (the HTTP server, the command line) can
// hold and show a row without linking the database: the server builds on Centre, Access
// and these values only (ServerTests' `serverImportsNoStorage` checks it).
// What does not: SQL and connections (Catalog), what a row means or allows (Access,
// Centre, Recording, Integrity).
// Invariants: Sendable value types; times in microseconds since the Unix epoch (UTC),
// media durations in 90 kHz ticks.
