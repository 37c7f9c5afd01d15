"""Outbound webhooks (SPEC §11): subscriptions, the transactional outbox, signed deliveries."""
