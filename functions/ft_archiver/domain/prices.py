"""Published AWS prices the sizing estimates with: US East (N. Virginia), on-demand, in USD,
without free tiers, savings plans or volume tiers beyond the first. Looked up 2026-11-26;
prices change, so each says where it comes from. Pure constants."""

REGION = "us-east-1"
LOOKED_UP = "2026-11-26"

# AWS Lambda, https://aws.amazon.com/lambda/pricing/ (first tier: up to 6 billion x86
# GB-seconds, 7.5 billion arm64 GB-seconds a month). The stored copy of that page did not
# include its price tables; the figures are those of AWS's whitepaper "How AWS Pricing
# Works" (https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html:
# $0.00001667 per GB-second, $0.20 per million requests) to the digits the pricing
# calculator uses, as quoted for us-east-1 by cloudchipr.com/blog/aws-lambda-pricing.
# template.yaml deploys every function on x86_64 (Globals, Architectures), so the sizing
# uses the x86 price; a unit test fails if the template moves to arm64.
LAMBDA_X86_USD_PER_GB_SECOND = 0.0000166667
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000

# AWS Step Functions, Standard workflows, https://aws.amazon.com/step-functions/pricing/:
# $0.025 per 1,000 state transitions in US East (N. Virginia).
STEP_FUNCTIONS_USD_PER_TRANSITION = 0.025 / 1_000

# Amazon S3, https://aws.amazon.com/s3/pricing/ (S3 Standard). The stored copy of that
# page did not include its tables either; these are the us-east-1 figures secondary
# sources quote for 2026 (c3x.dev/blog/s3-request-fees-explained, cloudburn.io's
# "Amazon S3 pricing", March 2026): PUT, COPY, POST and LIST requests $0.005 per 1,000
# (CreateMultipartUpload and CompleteMultipartUpload are POSTs, UploadPart and PutObject
# PUTs), and storage $0.023 per GB-month for the first 50 TB. S3 counts storage in
# binary GB (its FAQ's example divides byte-hours by 1,073,741,824).
S3_PUT_USD_PER_REQUEST = 0.005 / 1_000
S3_STANDARD_USD_PER_GIB_MONTH = 0.023
