# State addresses from before the two functions shared one block each (for_each over
# local.functions): an existing deployment's functions, roles, log groups, URLs and retry settings
# move to their new addresses, none is destroyed and created again.
moved {
  from = aws_lambda_function.backup
  to   = aws_lambda_function.this["backup"]
}

moved {
  from = aws_lambda_function.restore
  to   = aws_lambda_function.this["restore"]
}

moved {
  from = aws_iam_role.backup
  to   = aws_iam_role.function["backup"]
}

moved {
  from = aws_iam_role.restore
  to   = aws_iam_role.function["restore"]
}

moved {
  from = aws_cloudwatch_log_group.backup
  to   = aws_cloudwatch_log_group.function["backup"]
}

moved {
  from = aws_cloudwatch_log_group.restore
  to   = aws_cloudwatch_log_group.function["restore"]
}

moved {
  from = aws_lambda_function_event_invoke_config.backup
  to   = aws_lambda_function_event_invoke_config.this["backup"]
}

moved {
  from = aws_lambda_function_event_invoke_config.restore
  to   = aws_lambda_function_event_invoke_config.this["restore"]
}

moved {
  from = aws_lambda_function_url.backup
  to   = aws_lambda_function_url.this["backup"]
}

moved {
  from = aws_lambda_function_url.restore
  to   = aws_lambda_function_url.this["restore"]
}
