"""Telemetry names: the OpenTelemetry GenAI semantic conventions plus our own `agentops.*` names.

Kept as plain string constants (not imported from `opentelemetry-semantic-conventions`) because the
GenAI names are still "development" status there and move between releases; pinning them here keeps
what we emit stable whatever semconv package the host app has installed.
"""

from __future__ import annotations

# --- span / metric attributes (GenAI semantic conventions) ---
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
REQUEST_STREAM = "gen_ai.request.stream"
REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
OUTPUT_TYPE = "gen_ai.output.type"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
USAGE_COST = "gen_ai.usage.cost"
TOKEN_TYPE = "gen_ai.token.type"
TOOL_NAME = "gen_ai.tool.name"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_CALL_ID = "gen_ai.tool.call.id"
AGENT_NAME = "gen_ai.agent.name"
AGENT_ID = "gen_ai.agent.id"
WORKFLOW_NAME = "gen_ai.workflow.name"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
CONVERSATION_ID = "gen_ai.conversation.id"
EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
TOOL_DEFINITIONS = "gen_ai.tool.definitions"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# --- our own attributes ---
COST_UNPRICED = "agentops.cost.unpriced"
STREAM_ABANDONED = "agentops.stream.abandoned"
CACHE_HIT = "agentops.cache.hit"
CACHE_BYPASS = "agentops.cache.bypass"
ROUTING_REQUESTED_MODEL = "agentops.routing.requested_model"
ROUTING_MODEL = "agentops.routing.model"
ROUTING_TIER = "agentops.routing.tier"
ROUTING_ESTIMATED_TOKENS = "agentops.routing.estimated_tokens"
BALANCING_STRATEGY = "agentops.load_balancing.strategy"
BALANCING_ENDPOINT = "agentops.load_balancing.endpoint"
BATCH_SIZE = "agentops.batch.size"
BATCH_INDEX = "agentops.batch.index"
RETRY_ATTEMPTS = "agentops.retry.attempts"
POLICY_KEY = "agentops.policy.key"
FALLBACK_MODEL = "agentops.fallback.model"
REQUEST_TOOL_CALLS = "agentops.response.tool_calls"
RESPONSE_TOOL_CALL_IDS = "agentops.response.tool_call_ids"
TOOL_CALL_ORIGIN = "agentops.tool.origin"
SAMPLING_REASON = "agentops.sampling.reason"
SAMPLING_DECISION = "agentops.sampling.decision"
SAMPLING_TRIGGER = "agentops.sampling.trigger"

# --- operation names ---
OP_CHAT = "chat"
OP_TEXT_COMPLETION = "text_completion"
OP_EMBEDDINGS = "embeddings"
OP_GENERATE_CONTENT = "generate_content"

# --- metric names ---
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
METRIC_COST = "gen_ai.usage.cost"
METRIC_ERRORS = "agentops.errors"
METRIC_TOOL_CALLS = "agentops.tool.calls"
METRIC_AGENT_OPERATION_DURATION = "agentops.operation.duration"
METRIC_UNPRICED_CALLS = "agentops.cost.unpriced_calls"
METRIC_CACHE_HITS = "agentops.cache.hits"
METRIC_CACHE_MISSES = "agentops.cache.misses"
METRIC_CACHE_BYPASSES = "agentops.cache.bypasses"
METRIC_ROUTED_CALLS = "agentops.routing.calls"
METRIC_BALANCED_REQUESTS = "agentops.load_balancing.requests"
METRIC_BATCHES = "agentops.batch.requests"
METRIC_BATCH_SIZE = "agentops.batch.size"
METRIC_STATE_FALLBACKS = "agentops.state.fallbacks"
STATE_OPERATION = "agentops.state.operation"
METRIC_RETRY_ATTEMPTS = "agentops.retry.attempts"
METRIC_BREAKER_STATE = "agentops.circuit_breaker.state"
METRIC_BREAKER_TRANSITIONS = "agentops.circuit_breaker.transitions"
METRIC_RATE_LIMIT_WAIT = "agentops.rate_limit.wait"
METRIC_RATE_LIMIT_REJECTIONS = "agentops.rate_limit.rejections"
METRIC_FALLBACKS = "agentops.fallback.calls"
METRIC_SAMPLING_DECISIONS = "agentops.sampling.decisions"
METRIC_EXPORT_DROPPED_SPANS = "agentops.export.dropped_spans"

# Bucket boundaries the GenAI semantic conventions recommend for these histograms.
DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
COST_BUCKETS = (
    0.00001,
    0.0001,
    0.0005,
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
    10.0,
)

TOKEN_TYPE_INPUT = "input"
TOKEN_TYPE_OUTPUT = "output"

# --- agent frameworks and MCP (otel_agentops.frameworks) ---
# Model Context Protocol semantic conventions (client side).
MCP_METHOD_NAME = "mcp.method.name"
MCP_PROTOCOL_VERSION = "mcp.protocol.version"
MCP_METHOD_TOOLS_CALL = "tools/call"
RPC_RESPONSE_STATUS_CODE = "rpc.response.status_code"
# gen_ai.tool.type values: MCP tools are extension tools; error.type of an MCP result with isError: true.
TOOL_TYPE_EXTENSION = "extension"
ERROR_TYPE_TOOL_ERROR = "tool_error"
# The name the MCP server gives itself in its initialize result; the conventions have no attribute for it.
MCP_SERVER_NAME = "agentops.mcp.server.name"
