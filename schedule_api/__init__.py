"""The schedule service: channels, assets and (later) schedules, on SQLite or PostgreSQL."""
