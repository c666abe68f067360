"""Real APIs' routes and values shaped like their providers' documented ids, for the templating
tests: routes copied from the descriptions in the corpus (``../shared/corpus/specs``: Stripe,
GitHub, Kubernetes, Petstore) and from the public references of Twilio, Slack, Spotify and Xero;
values made by each provider's documented id format (Stripe ``cus_`` + base62, Twilio two
letters + 32 hex, Spotify 22 base62, Kubernetes ``generateName`` suffixes, GitHub 40-hex SHAs,
Xero UUIDs). A route is ``(method, template)``; a parameter is ``{name:kind}``, the kind naming
the value maker. Nothing here knows the templater's rules."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable

B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName suffixes: no vowels

# every literal segment of the four corpus descriptions' paths (433 words: resource names,
# actions, versions, API groups), extracted once from ../shared/corpus/specs
# fmt: off
SPEC_LITERALS = (
    "Users", "accept", "access_tokens", "account", "account_links", "account_sessions", "accounts",
    "actions", "admissionregistration.k8s.io", "advance", "alerts", "annotations", "api",
    "apiextensions.k8s.io", "apiregistration.k8s.io", "apis", "apiservices", "app", "app-manifests",
    "apple_pay", "application_fees", "applications", "apply_customer_balance", "approval",
    "approve", "apps", "archive", "artifacts", "assets", "assignees", "attach", "attachments",
    "authentication.k8s.io", "authorization.k8s.io", "authorizations", "authors",
    "automated-security-fixes", "autoscaling", "balance", "balance_transactions", "bank_accounts",
    "batch", "billing_portal", "binding", "bindings", "blobs", "blocks", "branches",
    "branches-where-head", "builds", "calculations", "cancel", "cancel_action", "capabilities",
    "capture", "cardholders", "cards", "cash_balance", "cash_balance_transactions",
    "certificates.k8s.io", "certificatesigningrequests", "charges", "check-runs", "check-suites",
    "checkout", "clients", "clones", "close", "clusterrolebindings", "clusterroles", "code",
    "code-scanning", "code_frequency", "code_of_conduct", "codes_of_conduct", "collaborators",
    "columns", "comments", "commit_activity", "commits", "community", "compare",
    "componentstatuses", "computed_upfront_line_items", "configmaps", "configurations", "confirm",
    "connection_tokens", "content_references", "contents", "contexts", "contributors",
    "controllerrevisions", "conversions", "country_specs", "coupons", "createWithList",
    "create_force_capture", "create_from_calculation", "create_reversal", "create_unlinked_refund",
    "credential-authorizations", "credit_notes", "credit_reversals", "cronjobs", "customers",
    "customresourcedefinitions", "daemonsets", "debit_reversals", "decline", "delete", "deliver",
    "deployments", "detach", "disconnect", "discount", "discussions", "dismissals", "dispatches",
    "dispute", "disputes", "domains", "downloads", "early_fraud_warnings", "email", "emails",
    "emojis", "endpoints", "enforce_admins", "ephemeral_keys", "events", "events.k8s.io",
    "eviction", "exchange_rates", "exec", "expire", "extensions", "external_accounts", "fail",
    "features", "feeds", "file_links", "files", "finalize", "financial_accounts",
    "financial_connections", "find", "findByStatus", "findByTags", "followers", "following",
    "forks", "fund_cash_balance", "funding_instructions", "generate", "gists", "git", "gitignore",
    "gpg_keys", "grant", "grants", "group-mappings", "groups", "history", "hooks",
    "horizontalpodautoscalers", "hovercard", "identity", "import", "inbound_transfers", "increment",
    "increment_authorization", "ingresses", "initializerconfigurations", "installation",
    "installations", "interaction-limits", "inventory", "invitations", "invoiceitems", "invoices",
    "issues", "issuing", "jobs", "keys", "labels", "languages", "large_files", "latest", "lfs",
    "license", "licenses", "limitranges", "line_items", "lines", "link_account_sessions",
    "linked_accounts", "localsubjectaccessreviews", "locations", "lock", "log", "login",
    "login_links", "logout", "logs", "mandate_notifications", "mandates", "mark_uncollectible",
    "markdown", "marketplace_listing", "marketplace_purchases", "matching-refs", "members",
    "memberships", "merge", "merges", "meta", "migrations", "milestones", "moves",
    "mutatingwebhookconfigurations", "namespaces", "networking.k8s.io", "networkpolicies",
    "networks", "nodes", "notifications", "order", "organizations", "orgs", "outbound_payments",
    "outbound_transfers", "outside_collaborators", "owners", "pages", "participation", "paths",
    "pay", "payment_intents", "payment_links", "payment_method_domains", "payment_methods",
    "payouts", "pdf", "people", "permission", "persistentvolumeclaims", "persistentvolumes",
    "persons", "pet", "pings", "plans", "poddisruptionbudgets", "podpresets", "pods",
    "podsecuritypolicies", "podtemplates", "policy", "popular", "portforward", "post",
    "preferences", "present_payment_method", "preview", "prices", "priorityclasses",
    "process_payment_intent", "process_setup_intent", "products", "profile", "projects",
    "promotion_codes", "protection", "proxy", "public", "public-key", "public_emails",
    "public_members", "pulls", "punch_card", "quotes", "radar", "rate_limit", "raw",
    "rbac.authorization.k8s.io", "reactions", "readers", "readme", "received_credits",
    "received_debits", "received_events", "redact", "ref", "referrers", "refresh", "refs", "refund",
    "refund_payment", "refunds", "registration-token", "reject", "release", "releases",
    "remove-token", "replicasets", "replicationcontrollers", "replies", "report_runs",
    "report_types", "reporting", "repos", "repositories", "repository_invitations",
    "requested_reviewers", "required_pull_request_reviews", "required_signatures",
    "required_status_checks", "rerequest", "rerun", "resourcequotas", "restrictions", "resume",
    "return", "reversals", "reverse", "reviews", "rolebindings", "roles", "rollback", "runners",
    "runs", "scale", "scheduled_query_runs", "scheduling.k8s.io", "scim", "search", "secrets",
    "selfsubjectaccessreviews", "selfsubjectrulesreviews", "send", "serviceaccounts", "services",
    "sessions", "set_reader_display", "settings", "settings.k8s.io", "settlements",
    "setup_attempts", "setup_intents", "ship", "shipping", "shipping_rates", "sigma",
    "source_transactions", "sources", "star", "stargazers", "starred", "statefulsets", "stats",
    "status", "statuses", "storage.k8s.io", "storageclasses", "store", "stubbed",
    "subjectaccessreviews", "submit", "subscribers", "subscription", "subscription_items",
    "subscription_schedules", "subscriptions", "succeed", "suspended", "tags", "tax", "tax_codes",
    "tax_ids", "tax_rates", "team-sync", "teams", "templates", "terminal", "test_clocks",
    "test_helpers", "tests", "threads", "timeline", "timing", "token", "tokenreviews", "tokens",
    "topics", "topups", "traffic", "transaction_entries", "transactions", "transfer", "transfers",
    "treasury", "trees", "upcoming", "update-branch", "uploadImage", "usage_record_summaries",
    "usage_records", "user", "users", "v1", "v1alpha1", "v1beta1", "v1beta2", "v2", "v2alpha1",
    "v2beta1", "validate", "validatingwebhookconfigurations", "value_list_items", "value_lists",
    "verification_reports", "verification_sessions", "verify", "verify_microdeposits", "version",
    "views", "visibility", "void", "volumeattachments", "vulnerability-alerts", "watch",
    "webhook_endpoints", "workflows",
)
# fmt: on

# Stripe (corpus stripe.yaml): every /v1/{collection}/{id}, its list, and the customer subtree.
# Stripe's id prefixes by object, under the names of their collections and of the path
# parameters that take them (also used by benchmarks/bench_templating_real.py)
# fmt: off
STRIPE_ID_PREFIXES = {"account": "acct", "accounts": "acct", "application_fees": "fee", "authorization": "iauth", "authorizations": "iauth", "balance_transactions": "txn", "bank_account": "ba", "card": "card", "cardholder": "ich", "cardholders": "ich", "cards": "ic", "charge": "ch", "charges": "ch", "checkout_session": "cs", "configuration": "bpc", "coupons": "co", "credit_note": "cn", "credit_notes": "cn", "customer": "cus", "customers": "cus", "dispute": "dp", "disputes": "dp", "ephemeral_keys": "ephkey", "events": "evt", "file": "file", "file_links": "link", "files": "file", "intent": "pi", "invoice": "in", "invoiceitem": "ii", "invoiceitems": "ii", "invoices": "in", "item": "si", "link_account_sessions": "fcsess", "linked_accounts": "fca", "location": "tml", "mandate": "mandate", "mandates": "mandate", "payment_intents": "pi", "payment_link": "plink", "payment_links": "plink", "payment_method": "pm", "payment_method_domains": "pmd", "payment_methods": "pm", "payout": "po", "payouts": "po", "person": "person", "persons": "person", "plans": "plan", "price": "price", "prices": "price", "product": "prod", "products": "prod", "promotion_code": "promo", "promotion_codes": "promo", "quote": "qt", "quotes": "qt", "reader": "tmr", "readers": "tmr", "refund": "re", "refunds": "re", "review": "prv", "reviews": "prv", "schedule": "sub_sched", "session": "cs", "sessions": "cs", "setup_intents": "seti", "shipping_rate": "shr", "shipping_rates": "shr", "source": "src", "sources": "src", "subscription_exposed_id": "sub", "subscription_item": "si", "subscription_items": "si", "subscription_schedules": "sub_sched", "subscriptions": "sub", "tax_ids": "txi", "tax_rates": "txr", "test_clock": "clock", "test_clocks": "clock", "tokens": "tok", "topup": "tu", "topups": "tu", "transaction": "ipi", "transactions": "ipi", "transfer": "tr", "transfers": "tr", "value_list": "rsl", "value_lists": "rsl", "webhook_endpoint": "we", "webhook_endpoints": "we"}
_STRIPE_COLLECTIONS = ("accounts", "application_fees", "balance_transactions", "charges", "coupons", "credit_notes", "customers", "disputes", "ephemeral_keys", "events", "file_links", "files", "invoiceitems", "invoices", "link_account_sessions", "linked_accounts", "mandates", "payment_intents", "payment_links", "payment_method_domains", "payment_methods", "payouts", "plans", "prices", "products", "promotion_codes", "quotes", "refunds", "reviews", "setup_intents", "shipping_rates", "sources", "subscription_items", "subscription_schedules", "subscriptions", "tax_rates", "tokens", "topups", "transfers", "webhook_endpoints")
# fmt: on
STRIPE_PREFIXES = {c: STRIPE_ID_PREFIXES[c] for c in _STRIPE_COLLECTIONS}
STRIPE = [
    *[("GET", f"/v1/{c}") for c in STRIPE_PREFIXES],
    *[("GET", f"/v1/{c}/{{id:stripe-{p}}}") for c, p in STRIPE_PREFIXES.items()],
    *[("POST", f"/v1/{c}/{{id:stripe-{p}}}") for c, p in list(STRIPE_PREFIXES.items())[::3]],
    ("GET", "/v1/customers/search"),
    ("GET", "/v1/charges/search"),
    ("GET", "/v1/balance"),
    ("GET", "/v1/account"),
    ("GET", "/v1/customers/{customer:stripe-cus}/balance_transactions"),
    ("GET", "/v1/customers/{customer:stripe-cus}/balance_transactions/{transaction:stripe-cbtxn}"),
    ("GET", "/v1/customers/{customer:stripe-cus}/cash_balance"),
    ("GET", "/v1/customers/{customer:stripe-cus}/payment_methods"),
    ("GET", "/v1/customers/{customer:stripe-cus}/payment_methods/{payment_method:stripe-pm}"),
    ("GET", "/v1/customers/{customer:stripe-cus}/sources/{id:stripe-card}"),
    ("POST", "/v1/customers/{customer:stripe-cus}/sources/{id:stripe-ba}/verify"),
    ("GET", "/v1/customers/{customer:stripe-cus}/subscriptions"),
    ("GET", "/v1/customers/{customer:stripe-cus}/subscriptions/{sub:stripe-sub}/discount"),
    ("GET", "/v1/customers/{customer:stripe-cus}/tax_ids/{id:stripe-txi}"),
]

# GitHub (corpus github.json): accounts and repositories are words (usernames, repository
# names), branches and labels too; SHAs are 40 hex, numbers integers
GITHUB = [
    ("GET", "/users/{username:gh-user}"),
    ("GET", "/users/{username:gh-user}/repos"),
    ("GET", "/users/{username:gh-user}/followers"),
    ("GET", "/users/{username:gh-user}/gists"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/issues"),
    ("POST", "/repos/{owner:gh-user}/{repo:gh-repo}/issues"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/issues/{issue_number:int}"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/issues/{issue_number:int}/comments"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/pulls"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/pulls/{pull_number:int}"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/pulls/{pull_number:int}/files"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/commits"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/commits/{ref:sha}"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/statuses/{sha:sha}"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/branches"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/branches/{branch:gh-branch}"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/branches/{branch:gh-branch}/protection"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/labels"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/labels/{name:gh-label}"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/releases"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/releases/latest"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/releases/{release_id:int}"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/contributors"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/stats/contributors"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/stats/punch_card"),
    ("GET", "/repos/{owner:gh-user}/{repo:gh-repo}/collaborators/{username:gh-user}"),
    ("GET", "/gists/{gist_id:hex32}"),
    ("GET", "/orgs/{org:gh-user}/repos"),
    ("GET", "/orgs/{org:gh-user}/members"),
]

# Kubernetes (corpus kubernetes.json): namespaces are words; object names are words or
# generated names (ReplicaSet hash + generateName suffix)
KUBERNETES = [
    *[
        (m, f"/api/v1/namespaces/{{namespace:k8s-ns}}/{kind}/{{name:{maker}}}")
        for kind, maker in (
            ("pods", "k8s-pod"),
            ("services", "k8s-app"),
            ("configmaps", "k8s-app"),
            ("secrets", "k8s-secret"),
            ("serviceaccounts", "k8s-sa"),
            ("endpoints", "k8s-app"),
            ("persistentvolumeclaims", "k8s-app"),
        )
        for m in ("GET", "PUT", "DELETE")
    ],
    *[
        ("GET", f"/api/v1/namespaces/{{namespace:k8s-ns}}/{kind}")
        for kind in ("pods", "services", "configmaps", "secrets", "events", "resourcequotas")
    ],
    ("GET", "/api/v1/namespaces/{namespace:k8s-ns}/pods/{name:k8s-pod}/log"),
    ("GET", "/api/v1/namespaces/{namespace:k8s-ns}/pods/{name:k8s-pod}/status"),
    ("GET", "/api/v1/namespaces/{name:k8s-ns}"),
    ("GET", "/api/v1/namespaces"),
    ("GET", "/api/v1/nodes"),
    ("GET", "/api/v1/nodes/{name:k8s-node}"),
    ("GET", "/apis/apps/v1/namespaces/{namespace:k8s-ns}/deployments"),
    ("GET", "/apis/apps/v1/namespaces/{namespace:k8s-ns}/deployments/{name:k8s-app}"),
    ("PATCH", "/apis/apps/v1/namespaces/{namespace:k8s-ns}/deployments/{name:k8s-app}"),
    ("GET", "/apis/apps/v1/namespaces/{namespace:k8s-ns}/replicasets/{name:k8s-rs}"),
    ("GET", "/apis/batch/v1/namespaces/{namespace:k8s-ns}/jobs/{name:k8s-job}"),
    ("GET", "/version"),
    ("GET", "/healthz"),
]

# Petstore (corpus petstore.yaml): usernames are items (GET, PUT, DELETE); login, logout and
# createWithList are actions beside them
PETSTORE = [
    ("GET", "/api/v3/pet/{petId:int}"),
    ("POST", "/api/v3/pet/{petId:int}"),
    ("DELETE", "/api/v3/pet/{petId:int}"),
    ("GET", "/api/v3/pet/findByStatus"),
    ("GET", "/api/v3/pet/findByTags"),
    ("POST", "/api/v3/pet/{petId:int}/uploadImage"),
    ("GET", "/api/v3/store/inventory"),
    ("GET", "/api/v3/store/order/{orderId:int}"),
    ("DELETE", "/api/v3/store/order/{orderId:int}"),
    ("GET", "/api/v3/user/{username:pet-user}"),
    ("PUT", "/api/v3/user/{username:pet-user}"),
    ("DELETE", "/api/v3/user/{username:pet-user}"),
    ("GET", "/api/v3/user/login"),
    ("GET", "/api/v3/user/logout"),
    ("POST", "/api/v3/user/createWithList"),
]

# Twilio (twilio.com/docs/usage/api): a dated version segment, SIDs (two letters, 32 hex) with
# the .json suffix, ISO country codes
_ACC = "/2010-04-01/Accounts/{AccountSid:AC}"
TWILIO = [
    ("GET", "/2010-04-01/Accounts.json"),
    ("GET", "/2010-04-01/Accounts/{Sid:AC}.json"),
    ("GET", f"{_ACC}/Messages.json"),
    ("POST", f"{_ACC}/Messages.json"),
    ("GET", f"{_ACC}/Messages/{{Sid:SM}}.json"),
    ("DELETE", f"{_ACC}/Messages/{{Sid:SM}}.json"),
    ("GET", f"{_ACC}/Messages/{{MessageSid:MM}}/Media.json"),
    ("GET", f"{_ACC}/Messages/{{MessageSid:MM}}/Media/{{Sid:ME}}.json"),
    ("GET", f"{_ACC}/Calls.json"),
    ("POST", f"{_ACC}/Calls.json"),
    ("GET", f"{_ACC}/Calls/{{Sid:CA}}.json"),
    ("POST", f"{_ACC}/Calls/{{Sid:CA}}.json"),
    ("GET", f"{_ACC}/Calls/{{CallSid:CA}}/Recordings.json"),
    ("GET", f"{_ACC}/Recordings.json"),
    ("GET", f"{_ACC}/Recordings/{{Sid:RE}}.json"),
    ("GET", f"{_ACC}/IncomingPhoneNumbers.json"),
    ("GET", f"{_ACC}/IncomingPhoneNumbers/{{Sid:PN}}.json"),
    ("GET", f"{_ACC}/AvailablePhoneNumbers.json"),
    ("GET", f"{_ACC}/AvailablePhoneNumbers/{{CountryCode:country}}/Local.json"),
    ("GET", f"{_ACC}/AvailablePhoneNumbers/{{CountryCode:country}}/Mobile.json"),
    ("GET", f"{_ACC}/AvailablePhoneNumbers/{{CountryCode:country}}/TollFree.json"),
    ("GET", f"{_ACC}/Conferences.json"),
    ("GET", f"{_ACC}/Conferences/{{Sid:CF}}.json"),
    ("GET", f"{_ACC}/Conferences/{{ConferenceSid:CF}}/Participants.json"),
    ("GET", f"{_ACC}/Queues/{{Sid:QU}}.json"),
    ("GET", f"{_ACC}/Keys/{{Sid:SK}}.json"),
    ("GET", f"{_ACC}/Balance.json"),
    ("GET", f"{_ACC}/Usage/Records.json"),
    ("GET", f"{_ACC}/Usage/Records/Daily.json"),
    ("GET", f"{_ACC}/Usage/Records/Monthly.json"),
]

# Slack (api.slack.com/methods): one endpoint per dotted method name under /api/
# fmt: off
SLACK_METHODS = (
    "chat.postMessage", "chat.update", "chat.delete", "chat.postEphemeral", "chat.scheduleMessage",
    "chat.getPermalink", "conversations.list", "conversations.history", "conversations.info",
    "conversations.members", "conversations.join", "conversations.create", "conversations.invite",
    "conversations.replies", "conversations.archive", "conversations.open",
    "conversations.setTopic", "users.list", "users.info", "users.lookupByEmail",
    "users.conversations", "users.getPresence", "users.profile.get", "users.profile.set",
    "files.upload", "files.list", "files.info", "files.delete", "reactions.add", "reactions.get",
    "reactions.remove", "pins.add", "pins.list", "auth.test", "auth.revoke", "team.info",
    "emoji.list", "search.messages", "bots.info", "apps.connections.open", "oauth.v2.access",
    "views.open", "views.publish", "dnd.info", "reminders.add", "usergroups.list",
)
# fmt: on
SLACK = [("POST", f"/api/{m}") for m in SLACK_METHODS]

# Spotify (developer.spotify.com/documentation/web-api): 22-character base62 ids
SPOTIFY = [
    ("GET", "/v1/albums/{id:spotify}"),
    ("GET", "/v1/albums/{id:spotify}/tracks"),
    ("GET", "/v1/artists/{id:spotify}"),
    ("GET", "/v1/artists/{id:spotify}/albums"),
    ("GET", "/v1/artists/{id:spotify}/top-tracks"),
    ("GET", "/v1/artists/{id:spotify}/related-artists"),
    ("GET", "/v1/tracks/{id:spotify}"),
    ("GET", "/v1/audio-features/{id:spotify}"),
    ("GET", "/v1/audio-analysis/{id:spotify}"),
    ("GET", "/v1/playlists/{playlist_id:spotify}"),
    ("PUT", "/v1/playlists/{playlist_id:spotify}"),
    ("GET", "/v1/playlists/{playlist_id:spotify}/tracks"),
    ("POST", "/v1/playlists/{playlist_id:spotify}/tracks"),
    ("GET", "/v1/playlists/{playlist_id:spotify}/images"),
    ("GET", "/v1/me"),
    ("GET", "/v1/me/playlists"),
    ("GET", "/v1/me/tracks"),
    ("GET", "/v1/me/player"),
    ("GET", "/v1/me/player/currently-playing"),
    ("PUT", "/v1/me/player/play"),
    ("PUT", "/v1/me/player/pause"),
    ("POST", "/v1/me/player/next"),
    ("GET", "/v1/browse/new-releases"),
    ("GET", "/v1/browse/featured-playlists"),
    ("GET", "/v1/browse/categories"),
    ("GET", "/v1/recommendations"),
    ("GET", "/v1/search"),
    ("GET", "/v1/shows/{id:spotify}"),
    ("GET", "/v1/shows/{id:spotify}/episodes"),
    ("GET", "/v1/episodes/{id:spotify}"),
    ("GET", "/v1/markets"),
]

# Xero accounting (developer.xero.com/documentation/api/accounting): UUIDs, attachments by
# file name
_XRO = "/api.xro/2.0"
XERO = [
    *[("GET", f"{_XRO}/{c}") for c in ("Invoices", "Contacts", "Accounts", "Payments", "Items")],
    ("POST", f"{_XRO}/Invoices"),
    ("GET", f"{_XRO}/Invoices/{{InvoiceID:uuid}}"),
    ("POST", f"{_XRO}/Invoices/{{InvoiceID:uuid}}"),
    ("GET", f"{_XRO}/Invoices/{{InvoiceID:uuid}}/Attachments"),
    ("GET", f"{_XRO}/Invoices/{{InvoiceID:uuid}}/Attachments/{{FileName:file}}"),
    ("GET", f"{_XRO}/Invoices/{{InvoiceID:uuid}}/History"),
    ("GET", f"{_XRO}/Invoices/{{InvoiceID:uuid}}/OnlineInvoice"),
    ("GET", f"{_XRO}/Contacts/{{ContactID:uuid}}"),
    ("GET", f"{_XRO}/Contacts/{{ContactID:uuid}}/CISSettings"),
    ("GET", f"{_XRO}/Accounts/{{AccountID:uuid}}"),
    ("GET", f"{_XRO}/BankTransactions/{{BankTransactionID:uuid}}"),
    ("GET", f"{_XRO}/Payments/{{PaymentID:uuid}}"),
    ("GET", f"{_XRO}/Journals/{{JournalID:uuid}}"),
    ("GET", f"{_XRO}/Organisation"),
    ("GET", f"{_XRO}/TaxRates"),
    ("GET", f"{_XRO}/Reports/BalanceSheet"),
    ("GET", f"{_XRO}/Reports/ProfitAndLoss"),
    ("GET", f"{_XRO}/Reports/TrialBalance"),
]

# words that are values at their provider (account, repository and team names, branches,
# labels, namespaces, app names, usernames, country and currency codes), by kind; also used by
# benchmarks/bench_templating_real.py
WORDS: dict[str, tuple[str, ...]] = {
    "gh-user": (
        "octocat",
        "torvalds",
        "github",
        "microsoft",
        "facebook",
        "google",
        "rails",
        "django",
        "kubernetes",
        "nodejs",
        "vercel",
        "hashicorp",
        "mozilla",
        "apache",
        "tensorflow",
        "pallets",
        "psf",
        "rust-lang",
        "golang",
        "docker",
        "ansible",
        "elastic",
        "grafana",
        "prometheus",
        "sindresorhus",
        "gaearon",
        "tj",
        "defunkt",
        "mojombo",
        "dhh",
        "yyx990803",
        "addyosmani",
        "paulirish",
        "kentcdodds",
        "getify",
        "jashkenas",
        "fabpot",
        "taylorotwell",
        "acme-corp",
        "dev-tools-42",
    ),
    "gh-repo": (
        "hello-world",
        "linux",
        "rails",
        "react",
        "vscode",
        "kubernetes",
        "go",
        "node",
        "django",
        "flask",
        "requests",
        "terraform",
        "moby",
        "ansible",
        "elasticsearch",
        "grafana",
        "prometheus",
        "spoon-knife",
        "dotfiles",
        "awesome",
        "express",
        "vue",
        "next.js",
        "tensorflow",
        "cpython",
        "rust",
        "deno",
        "bootstrap",
        "jquery",
        "lodash",
        "webpack",
        "babel",
        "eslint",
        "prettier",
        "jest",
        "typescript",
        "angular",
        "svelte",
        "electron",
        "api-server",
        "infra-2024",
    ),
    "gh-team": (
        "justice-league",
        "core",
        "security",
        "platform-eng",
        "docs-team",
        "sre",
        "frontend",
        "backend",
    ),
    "gh-branch": (
        "main",
        "master",
        "develop",
        "release-1.2",
        "gh-pages",
        "feature-login",
        "v2.x",
        "hotfix-31",
    ),
    "gh-label": (
        "bug",
        "enhancement",
        "documentation",
        "duplicate",
        "wontfix",
        "question",
        "help-wanted",
    ),
    "k8s-ns": (
        "default",
        "kube-system",
        "kube-public",
        "monitoring",
        "prod",
        "staging",
        "dev",
        "team-a",
        "payments",
        "ingress-nginx",
        "cert-manager",
        "logging",
    ),
    "k8s-app": (
        "nginx",
        "coredns",
        "api-server",
        "payments-worker",
        "frontend",
        "redis-master",
        "web",
        "checkout",
    ),
    "k8s-sa": ("default", "builder", "deployer", "prometheus"),
    "k8s-node": ("minikube", "worker-1", "worker-2", "ip-10-0-3-23.ec2.internal"),
    "pet-user": (
        "theUser",
        "user1",
        "user2",
        "jdoe",
        "alice",
        "bob",
        "carol",
        "dave99",
        "erin",
        "frank_k",
        "grace",
    ),
    "country": ("US", "GB", "DE", "FR", "CA", "AU", "JP", "BR", "IN", "NL"),
    "currency": ("usd", "eur", "gbp", "jpy", "cad", "aud", "chf"),
    "file": ("receipt.pdf", "invoice-2024.pdf", "scan_001.png", "contract.docx", "photo.jpg"),
}


def chars(rng: random.Random, alphabet: str, n: int) -> str:
    """n characters of an alphabet (the benchmark makes its ids with it too)."""
    return "".join(rng.choice(alphabet) for _ in range(n))


def maker(kind: str, rng: random.Random) -> Callable[[], str]:
    """The value maker of a kind: the provider's documented id format, or its words."""
    if kind in WORDS:
        return lambda: rng.choice(WORDS[kind])
    if kind.startswith("stripe-"):  # Stripe: the object's prefix, "_", a base62 body
        prefix = kind.removeprefix("stripe-")
        return lambda: f"{prefix}_{chars(rng, B62, rng.choice((14, 16, 24)))}"
    if len(kind) == 2 and kind.isupper():  # Twilio: two letters naming the type, 32 hex
        return lambda: kind + chars(rng, HEX, 32)
    app = WORDS["k8s-app"]
    makers: dict[str, Callable[[], str]] = {
        "int": lambda: str(rng.randint(1, 10**7)),
        "sha": lambda: chars(rng, HEX, 40),
        "hex32": lambda: chars(rng, HEX, 32),
        "uuid": lambda: "-".join(chars(rng, HEX, n) for n in (8, 4, 4, 4, 12)),
        "spotify": lambda: chars(rng, B62, 22),
        # Deployment pods: name, ReplicaSet pod-template hash, generateName suffix
        "k8s-pod": lambda: (
            f"{rng.choice(app)}-{chars(rng, K8S_ALPHABET, 10)}-{chars(rng, K8S_ALPHABET, 5)}"
        ),
        "k8s-rs": lambda: f"{rng.choice(app)}-{chars(rng, K8S_ALPHABET, 10)}",
        "k8s-job": lambda: f"backup-{rng.randint(27_000_000, 28_000_000)}",
        "k8s-secret": lambda: f"{rng.choice(app)}-token-{chars(rng, K8S_ALPHABET, 5)}",
    }
    return makers[kind]


_SLOT = re.compile(r"\{(\w+):([\w-]+)\}")


def shape(template: str) -> str:
    """A template with its parameter names dropped: ``/v1/customers/{}``."""
    return re.sub(r"\{[^{}]*\}", "{}", _SLOT.sub("{}", template))


def traffic(routes: list[tuple[str, str]], requests: int, seed: int) -> list[tuple[str, str, str]]:
    """(method, path, the route's template shape) per request: Zipf-skewed calls over the
    routes in a random order (so many are called once or never), values from a pool per
    parameter topped up with new ones, as clients fetch the same objects again."""
    rng = random.Random(seed)
    order = routes[:]
    rng.shuffle(order)
    weights = [1 / (rank + 1) for rank in range(len(order))]
    pools: dict[str, list[str]] = {}
    out = []
    for method, template in rng.choices(order, weights, k=requests):

        def fill(slot: re.Match[str]) -> str:
            pool = pools.setdefault(slot.group(0), [])
            if pool and rng.random() < 0.35:
                return rng.choice(pool)
            value = maker(slot.group(2), rng)()
            pool.append(value)
            return value

        out.append((method, _SLOT.sub(fill, template), shape(template)))
    return out
