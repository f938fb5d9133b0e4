//! The bank's graphql-endpoint (DESIGN.md §3); its service binary arrives with its issue.
