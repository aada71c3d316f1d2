"""Policy state shared by every process through Redis (``OTEL_AGENTOPS_STATE_URL``).

`backend` (the connection, the fallback to local state, the outage log and counter), `ratelimit` and
`breaker` (the same objects as `policies.ratelimit` / `policies.breaker`, their state in Lua scripts on
Redis), `store` (bytes with a TTL, for the response cache). Imported only when a Redis URL is configured;
redis-py itself is imported on the first connection.
"""
