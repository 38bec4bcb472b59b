"""Agent provisioning: who the agents are (store.py), their SIP accounts in PJSIP (pjsip.py) and getting
those accounts into a running Asterisk without a restart (provision.py). The ACD's live agent state
(signed in, paused, after-call work) lives in ``acd/``, not here."""
