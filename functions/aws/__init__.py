"""AWS Lambda handlers: `functions.aws.backup_handler.handler` and `functions.aws.restore_handler.handler`."""
