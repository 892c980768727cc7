// Integrity — the segment chain, as values: how a link is encoded and hashed, how a run
// of links is checked, and how a signed chain head is checked against them
// (docs/design/integrity.md). This is what a court's verifier runs, so it touches no
// database and no file: Recording extends the chain and signs heads over the catalog's
// rows with this code, and Evidence's offline verifier checks an export's links with the
// same code.
// What does not belong: storing links (Catalog), deciding when to chain or sign
// (Recording), the evidence bundle's format (Evidence).
