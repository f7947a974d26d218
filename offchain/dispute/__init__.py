"""Attribution disputes off chain: challenge, respond, prove, resolve, watch (design.md
"Disputes")."""
