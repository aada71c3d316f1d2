"""A small tool-using support agent written against the plain openai SDK: no telemetry code in it."""
