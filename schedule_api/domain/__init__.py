"""Pure rules of the schedule service, without I/O: events (clips, overlaps, the lock
horizon, breaks), rules (what a rule places where), guide (what airs, and the XMLTV, M3U and
CSV writers), channels (the core Channel, what may air), plans (stored events as a plan).
Errors are the shared kinds of common/errors.py, without HTTP status."""
