"""Systematic production: subscriptions that submit a service on new data, on a schedule or
after an event, into persistent information layers (``docs/production.md``)."""
