"""The HTTP edge of the schedule service: application keys, the middleware (CORS, API key,
problem+json), request parameter parsing and the OpenAPI document built from the routes'
operations."""
