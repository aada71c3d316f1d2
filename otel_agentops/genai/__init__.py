"""The provider-independent GenAI span core: one lifecycle object per call, stream proxies, metrics, cost."""
