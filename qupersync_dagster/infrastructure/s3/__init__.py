"""S3 staging: where a day UNLOADed by Redshift waits until QuperSync has copied it (boto3)."""
