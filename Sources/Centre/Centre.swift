// Centre: the monitoring centre's domain — roles and permissions, accounts and sessions,
// the camera registry and the recorders that serve it, live fan-out, and the audit trail of
// who touched which imagery. No HTTP, no SQL text: Centre decides, Catalog stores, Server
// speaks HTTP.
