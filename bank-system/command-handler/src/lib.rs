//! The bank's command-handler (DESIGN.md §3); its service binary arrives with its issue.
