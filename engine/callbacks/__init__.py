"""Booked callbacks: a caller who would wait for a busy queue presses 2 and is called back instead.

``policy`` decides when to call (pure: calling hours, retries, giving up); ``store`` keeps the bookings
(table ``callbacks``, engine.store.callback_tables). The controller's queue service dials them through the
outbound PJSIP endpoint ``hotline-outbound`` rendered from ``Settings.callback``.
"""
