"""Self-service look-ups for the IVR: account balance, bill, data usage and broadband orders.

records.py      the account and order records every source returns, and their look-up values
passwords.py    keyed hashes of the 6-digit service passwords
password_key.py the site's password key file those hashes are made with
db_source.py    DbSelfService: the SelfService port on the hotline's own database
http_source.py  HttpSelfService: the SelfService port on an operator's HTTP back end
loading.py      sample data and CSV import for `hotline data load`
"""
