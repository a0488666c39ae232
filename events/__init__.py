"""The write model: event types, canonical encoding, the store port and adapters,
integrity, and the pure domain rules that decide which events a command produces."""
