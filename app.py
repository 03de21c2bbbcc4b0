"""privacy-desk: wiring only. Routes live in chalicelib/api blueprints; handlers call into chalicelib."""
import os

from chalice import Chalice, Rate

from chalicelib import config, execution, housekeeping, logsafe, notifications, reminders
from chalicelib.api import admin, public
from chalicelib.console import routes as console

config.check_lambda_start()
logsafe.install()
app = Chalice(app_name="privacy-desk")
app.register_blueprint(admin.bp)
app.register_blueprint(public.bp)
app.register_blueprint(console.bp)

if config.stage() == "local":
    from chalicelib.api import dev

    app.register_blueprint(dev.bp)


@app.on_dynamodb_record(stream_arn=os.environ["REQUESTS_STREAM_ARN"], batch_size=25, starting_position="TRIM_HORIZON")
def on_request_change(event):
    return notifications.handle_stream(event.to_dict()["Records"])


@app.on_sqs_message(queue=os.environ.get("EXECUTION_QUEUE", "privacy-desk-executions"), batch_size=1)
def execution_worker(event):
    return execution.handle_messages([record.body for record in event], event.context.get_remaining_time_in_millis)


@app.schedule(Rate(1, unit=Rate.DAYS))
def daily_reminders(event):
    return reminders.run()


@app.schedule(Rate(5, unit=Rate.MINUTES))
def housekeeping_run(event):
    return housekeeping.run()
