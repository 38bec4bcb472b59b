"""The only code that talks to Asterisk: process control, config rendering, ARI and AMI sessions."""
