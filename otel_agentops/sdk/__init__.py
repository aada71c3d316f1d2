"""SDK glue: configurator, span processors and exporters, the run summary."""
