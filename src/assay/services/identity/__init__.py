"""Who is acting and what they may do: accounts and tokens, single sign-on,
course roles (``access``) and the audit log."""
