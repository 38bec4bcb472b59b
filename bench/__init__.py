"""Load and latency benchmarks: SIPp callers against a real Asterisk, the hotline versus a dialplan baseline.

``python -m bench.run`` (``make bench``) is the entry point; ``pbx_session`` brings up a private PBX
instance and the controller, ``sipp_load`` drives and parses SIPp, ``report`` turns the numbers into
the summary, the Markdown table and the JSON record.
"""
