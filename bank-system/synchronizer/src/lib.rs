//! The bank's synchronizer (DESIGN.md §3); its service binary arrives with its issue.
