// Incidents — the register of what operators see and report: the city's categories (data:
// administrators add and retire them, one in use is never deleted), each incident with
// its category, priority, time observed, the cameras and time ranges that show it, the
// place, the description, the reporting operator, its status (open → notified →
// acknowledged → on scene → closed, each change with who and when) and the timeline of
// its updates.
//
// What belongs here: the register's rules (`IncidentRules`, `IncidentStatus`) and its
// service (`IncidentRegister`), whose writes are catalog writes only, so each runs inside
// the audit trail's transaction with the entry that records it.
// What does not: who may report or read (Access's `incidents` permission, checked by the
// routes with each camera's live or playback permission), HTTP (Server), SQL (Catalog's
// IncidentTables), notifying the services (Dispatching).
