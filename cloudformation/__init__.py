"""The AWS stack (troposphere): build_template(params) and its deploy command (boto3)."""
