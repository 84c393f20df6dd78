"""The Redshift source: redshift-connector over a server-side cursor."""
