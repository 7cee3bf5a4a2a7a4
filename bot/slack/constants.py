"""Names the Slack app is registered under; manifest.yml must use the same ones."""

COMMAND = "/flowpreview"
SHORTCUT_CALLBACK_ID = "get_flow_preview"
OPEN_ACTION_ID = "open_preview"
SHARE_ACTION_ID = "share_preview"
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# A search's list of matches: the Preview button beside each flow.
PICK_ACTION_ID = "flow_preview_pick"
# The global shortcut and its modal (the picker).
PICKER_CALLBACK_ID = "flow_picker"
PICKER_NAME = "Preview a WhatsApp Flow"
# The picker's modals: the blocks and elements whose values come back in view payloads.
# None of them may be a field name intake.FIELD_KINDS checks (user, channel, view, ...).
PICKER_RESULT_CALLBACK_ID = "flow_picker_result"
PICKER_SPACE_BLOCK_ID = "picker_space"
PICKER_SPACE_ACTION_ID = "picker_space_select"
PICKER_FLOW_BLOCK_ID = "picker_flow"
PICKER_FLOW_ACTION_ID = "picker_flow_select"
PICKER_SHARE_BLOCK_ID = "picker_share"
PICKER_SHARE_ACTION_ID = "picker_share_conversation"
# Cards everyone in a channel sees (an unfurl, a shared preview): "Get my preview" gives the
# person who clicks their own link, after an access check.
GET_MY_PREVIEW_ACTION_ID = "get_my_preview"
# Link unfurls: the one domain whose WhatsApp flow links are unfurled.
UNFURL_DOMAIN = "business.facebook.com"
# The Home tab: its search box, and the buttons beside each flow it lists.
HOME_SEARCH_BLOCK_ID = "home_search"
HOME_SEARCH_ACTION_ID = "home_search_input"
HOME_PREVIEW_ACTION_ID = "home_preview"
HOME_PIN_ACTION_ID = "home_pin"
HOME_UNPIN_ACTION_ID = "home_unpin"
# The Workflow Builder step (a custom function); a function's callback ID lives apart from
# the message shortcut's, so the two may share a name.
STEP_CALLBACK_ID = "get_flow_preview"
# Slack's Web API, unless SLACK_API_URL says otherwise.
SLACK_API_URL = "https://slack.com/api/"
