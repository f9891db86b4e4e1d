"""kumis benchmark harness: load generator control, SDP, server drivers, measurement."""
