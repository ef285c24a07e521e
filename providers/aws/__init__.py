"""AWS adapters through boto3: CloudWatch metrics and alarms, S3 object versions, CloudFront
distribution configs, Lambda aliases, RDS snapshot restores. boto3 is imported only when one of
them first talks to AWS (session.py)."""

from providers.aws.cloudfront import CloudFrontProvider
from providers.aws.cloudwatch import CloudWatchSource
from providers.aws.lambda_alias import LambdaProvider
from providers.aws.rds import RdsProvider
from providers.aws.s3 import S3Provider

__all__ = [
    "CloudFrontProvider",
    "CloudWatchSource",
    "LambdaProvider",
    "RdsProvider",
    "S3Provider",
]
