// Access — who may do what: roles and their permissions, grants per camera, accounts
// (bcrypt on bounded threads of its own, `PasswordHasher`; per-address and per-network
// attempt limits, `AttemptLimiter`; lockout), sessions with idle and absolute limits, and
// API tokens that expire. It decides and stores through the catalog; it writes no audit
// entries itself: whoever acts on its answer does, in the same transaction where a change
// is made (`Accounts.AccountChange` with `AuditTrail.append(_:with:)`).
// What does not belong here: HTTP (cookies, CSRF headers: Server), the audit trail, and
// anything about cameras beyond the grants that name them.
