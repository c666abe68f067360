"""The mitmproxy integration: flow conversion, the background writer, enforcement, the addon."""
