"""The ACD at run time: callers waiting in queues, agents' live states, offering calls and bridging them."""
