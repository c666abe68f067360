"""Provider keys recognised by their documented prefix, alphabet, length and checksum.

Each pattern matches a whole token; ``find_provider_keys`` scans free text (header values, bodies)
for the patterns that carry a literal marker, with word boundaries. Where the provider defines a
checksum (GitHub's and npm's CRC32 in base62) it is verified: a whole credential value that
fails it is still named, with ``checksum: invalid`` kept as a fact (not issued by the provider,
or altered: scanners' test fixtures, tokens mangled in transit); in free text it must hold.
Published placeholders and documentation examples are never named (``shape.placeholder``).

Every pattern says where its key is revoked: an API when the provider offers one, otherwise the
console page (``revoke_api`` / ``revoke_console``): both are facts of every key named, so
``credentials --json`` shows them and the revocation runbook's ``revoke-at-provider`` step
tells the responder where to revoke a key of a provider it has no action for.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from discovery.redact.credentials.prefixscan import HeadScan
from discovery.redact.credentials.shape import looks_secret, near_miss, placeholder

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, width: int) -> str:
    """``number`` in base62 (0-9A-Za-z), left-padded with zeros to ``width``."""
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def crc32_base62_ok(token: str) -> bool:
    """GitHub/npm token checksum: the last 6 characters are base62(CRC32(the 30 random ones))."""
    body = token.split("_", 1)[1]
    random, check = body[:-6], body[-6:]
    return base62(zlib.crc32(random.encode("ascii")), 6) == check


def _starts_decoded(marker: bytes) -> Callable[[str], bool]:
    """A check that the token is base64 of ``marker`` + something (Intercom's ``tok:``)."""

    def check(token: str) -> bool:
        head = token[:24]
        try:
            return base64.b64decode(head + "=" * (-len(head) % 4)).startswith(marker)
        except (binascii.Error, ValueError):
            return False

    return check


def _has_digit(token: str) -> bool:
    return any(ch.isdigit() for ch in token)


@dataclass(frozen=True, slots=True)
class ProviderPattern:
    """One provider's key format and where such a key is revoked."""

    kind: str  # credential kind stored in the case
    provider: str
    prefix_re: str  # the documented prefix (a regex, kept in the redacted form)
    body_re: str  # the rest of the token
    label: str  # what this key is, in words
    checksum: Callable[[str], bool] | None = None  # a documented checksum (kept as a fact)
    revoke_api: str | None = None  # the provider's revocation API, when it offers one
    revoke_console: str | None = None  # where a person revokes or rotates it otherwise
    # scanned for in free text: only formats with a literal marker (others only match a whole
    # value in a credential position: a header, a parameter, a body field)
    scan: bool = True
    valid: Callable[[str], bool] | None = None  # a structural check beyond the regex
    # Formats without a marker of their own, named only where the provider documents they
    # travel: ``header:<squashed header name>``, ``scheme:<auth scheme>``, ``basic-user:<re>``
    # (the user name that goes with the key in Basic auth). None: named by format anywhere.
    context: str | None = None


_HEX32 = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_GITLAB = "https://docs.gitlab.com/api/admin/token/ (DELETE /api/v4/admin/token)"
_GITLAB_UI = "Settings > Access tokens of the user, project or group"
_SLACK = "POST https://slack.com/api/auth.revoke"
_VAULT = "POST $VAULT_ADDR/v1/auth/token/revoke"


def _p(
    kind: str,
    provider: str,
    prefix: str,
    body: str,
    label: str,
    *,
    api: str | None = None,
    console: str | None = None,
    checksum: Callable[[str], bool] | None = None,
    scan: bool = True,
    valid: Callable[[str], bool] | None = None,
    context: str | None = None,
) -> ProviderPattern:
    return ProviderPattern(
        kind, provider, prefix, body, label, checksum, api, console, scan, valid, context
    )


def _c(
    context: str,
    kind: str,
    provider: str,
    body: str,
    label: str,
    *,
    api: str | None = None,
    console: str | None = None,
) -> ProviderPattern:
    """A format named only in its documented place (a header, an auth scheme, a Basic user)."""
    return _p(
        kind, provider, "", body, label, api=api, console=console, scan=False, context=context
    )


PATTERNS: tuple[ProviderPattern, ...] = (
    # -- source hosting and package registries
    _p(
        "github_token",
        "github",
        r"gh[pousr]_",
        r"[A-Za-z0-9]{36}",
        "GitHub token",
        checksum=crc32_base62_ok,
        api="POST https://api.github.com/credentials/revoke",
        console="https://github.com/settings/tokens",
    ),
    _p(
        "github_token",
        "github",
        r"gh[pousr]_",
        r"[A-Za-z0-9_]{37,251}",
        "GitHub token",
        api="POST https://api.github.com/credentials/revoke",
        console="https://github.com/settings/tokens",
    ),
    _p(
        "github_token",
        "github",
        r"github_pat_",
        r"[A-Za-z0-9_]{82}",
        "GitHub fine-grained personal access token",
        api="POST https://api.github.com/credentials/revoke",
        console="https://github.com/settings/personal-access-tokens",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"glpat-",
        r"(?:[A-Za-z0-9_\-]{27,300}\.[0-9a-z]{9}|[A-Za-z0-9_\-]{20,50})",
        "GitLab personal access token",
        api=_GITLAB,
        console=_GITLAB_UI,
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"gldt-",
        r"[A-Za-z0-9_\-]{20,50}",
        "GitLab deploy token",
        api=_GITLAB,
        console="Settings > Repository > Deploy tokens",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"glrt-",
        r"(?:t\d_[A-Za-z0-9_\-]{27,300}\.[0-9a-z]{9}|[A-Za-z0-9_\-]{20,50})",
        "GitLab runner authentication token",
        api=_GITLAB,
        console="Settings > CI/CD > Runners",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"GR1348941",
        r"[A-Za-z0-9_\-]{20,50}",
        "GitLab runner registration token",
        api=_GITLAB,
        console="Settings > CI/CD > Runners (reset the registration token)",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"glptt-",
        r"[A-Za-z0-9_\-]{40}",
        "GitLab pipeline trigger token",
        api="DELETE /api/v4/projects/:id/triggers/:trigger_id",
        console="Settings > CI/CD > Pipeline trigger tokens",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"glft-",
        r"[A-Za-z0-9_\-]{20,50}",
        "GitLab feed token",
        api=_GITLAB,
        console="User settings > Access tokens > Reset feed token",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"glcbt-",
        r"(?:[0-9a-zA-Z]{1,5}_)?[0-9a-zA-Z_\-]{20,50}",
        "GitLab CI/CD job token",
        console="expires with its job (cancel the job)",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"gloas-",
        r"[A-Za-z0-9_\-]{64}",
        "GitLab OAuth application secret",
        api="POST /api/v4/applications/:id/renew-secret",
        console="Admin or user settings > Applications (renew secret)",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"glsoat-",
        r"[A-Za-z0-9_\-]{20,50}",
        "GitLab SCIM token",
        api=_GITLAB,
        console="Group settings > SAML SSO (reset SCIM token)",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"glimt-",
        r"[A-Za-z0-9_\-]{25}",
        "GitLab incoming mail token",
        console="User settings > Access tokens > Reset incoming email token",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"glagent-",
        r"[A-Za-z0-9_\-]{50,1024}",
        "GitLab Kubernetes agent token",
        api="DELETE /api/v4/projects/:id/cluster_agents/:agent_id/tokens/:token_id",
        console="Operate > Kubernetes clusters",
    ),
    _p(
        "gitlab_token",
        "gitlab",
        r"glffct-",
        r"[A-Za-z0-9_\-]{20}",
        "GitLab feature flag client token",
        console="Deploy > Feature flags (reset instance id)",
    ),
    _p(
        "npm_token",
        "npm",
        r"npm_",
        r"[A-Za-z0-9]{36}",
        "npm access token",
        checksum=crc32_base62_ok,
        api="DELETE https://registry.npmjs.org/-/npm/v1/tokens/token/:key",
        console="https://www.npmjs.com/settings/~/tokens",
    ),
    _p(
        "pypi_token",
        "pypi",
        r"pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)",
        r"[A-Za-z0-9_\-]{70,}",
        "PyPI API token",
        console="https://pypi.org/manage/account/token/",
    ),
    _p(
        "rubygems_key",
        "rubygems",
        r"rubygems_",
        r"[a-z0-9]{48}",
        "RubyGems API key",
        console="https://rubygems.org/profile/api_keys",
    ),
    _p(
        "nuget_key",
        "nuget",
        r"oy2",
        r"[a-z0-9]{43}",
        "NuGet API key",
        console="https://www.nuget.org/account/apikeys",
        scan=False,
    ),
    _p(
        "docker_token",
        "docker",
        r"dckr_(?:pat|oat)_",
        r"[A-Za-z0-9_\-]{27,}",
        "Docker Hub access token",
        api="DELETE https://hub.docker.com/v2/access-tokens/:uuid",
        console="https://app.docker.com/settings/personal-access-tokens",
    ),
    _p(
        "artifactory_key",
        "artifactory",
        r"AKCp",
        r"[A-Za-z0-9]{69}",
        "JFrog Artifactory API key",
        api="DELETE $ARTIFACTORY/api/security/apiKey",
        console="Artifactory > Edit profile > API key",
    ),
    _p(
        "artifactory_key",
        "artifactory",
        r"cmVmdGtu",
        r"[A-Za-z0-9]{56}",
        "JFrog reference token",
        api="DELETE $JFROG/access/api/v1/tokens/:token_id",
        console="Administration > User management > Access tokens",
    ),
    _p(
        "bitbucket_token",
        "bitbucket",
        r"ATBB",
        r"[A-Za-z0-9_=.\-]{24,64}",
        "Bitbucket app password",
        console="https://bitbucket.org/account/settings/app-passwords/",
    ),
    _p(
        "atlassian_token",
        "atlassian",
        r"ATATT3",
        r"[A-Za-z0-9_\-=]{180,200}",
        "Atlassian API token",
        console="https://id.atlassian.com/manage-profile/security/api-tokens",
    ),
    _p(
        "atlassian_token",
        "atlassian",
        r"ATCTT3",
        r"[A-Za-z0-9_\-=]{180,200}",
        "Atlassian organization API key",
        console="https://admin.atlassian.com (Settings > API keys)",
    ),
    _p(
        "circleci_token",
        "circleci",
        r"CCIP(?:AT|RJ)_",
        r"[A-Za-z0-9]{22}_[a-f0-9]{40}",
        "CircleCI API token",
        console="https://app.circleci.com/settings/user/tokens",
    ),
    _p(
        "buildkite_token",
        "buildkite",
        r"bkua_",
        r"[a-f0-9]{40}",
        "Buildkite API access token",
        console="https://buildkite.com/user/api-access-tokens",
    ),
    # -- payments and commerce
    _p(
        "stripe_key",
        "stripe",
        r"sk_(?:live|test|prod)_",
        r"[A-Za-z0-9]{20,247}",
        "Stripe secret key",
        console="https://dashboard.stripe.com/apikeys (roll key)",
    ),
    _p(
        "stripe_key",
        "stripe",
        r"rk_(?:live|test|prod)_",
        r"[A-Za-z0-9]{20,247}",
        "Stripe restricted key",
        console="https://dashboard.stripe.com/apikeys (roll key)",
    ),
    _p(
        "shopify_token",
        "shopify",
        r"shp(?:at|ca|pa|ss)_",
        r"[a-fA-F0-9]{32}",
        "Shopify access token",
        api="DELETE https://:shop.myshopify.com/admin/api_permissions/current.json",
        console="Shopify admin > Apps > Develop apps",
    ),
    _p(
        "square_token",
        "square",
        r"EAAA",
        r"[A-Za-z0-9_\-+=]{60}",
        "Square access token",
        api="POST https://connect.squareup.com/oauth2/revoke",
        console="https://developer.squareup.com/apps",
    ),
    _p(
        "square_token",
        "square",
        r"sq0atp-",
        r"[A-Za-z0-9_\-]{22}",
        "Square access token (legacy)",
        api="POST https://connect.squareup.com/oauth2/revoke",
        console="https://developer.squareup.com/apps",
    ),
    _p(
        "square_token",
        "square",
        r"sq0csp-",
        r"[A-Za-z0-9_\-]{43}",
        "Square application secret",
        console="https://developer.squareup.com/apps (replace secret)",
    ),
    _p(
        "shippo_token",
        "shippo",
        r"shippo_(?:live|test)_",
        r"[a-f0-9]{40}",
        "Shippo API token",
        console="https://apps.goshippo.com/settings/api",
    ),
    _p(
        "duffel_token",
        "duffel",
        r"duffel_(?:live|test)_",
        r"[A-Za-z0-9_\-=]{43}",
        "Duffel access token",
        console="https://app.duffel.com (Developers > Access tokens)",
    ),
    # -- cloud and infrastructure
    _p(
        "aws_access_key_id",
        "aws",
        r"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)",
        r"[A-Z0-9]{16}",
        "AWS access key id",
        api="iam:UpdateAccessKey (Status=Inactive), then iam:DeleteAccessKey",
        console="https://console.aws.amazon.com/iam/home#/security_credentials",
    ),
    _p(
        "google_api_key",
        "google",
        r"AIza",
        r"[0-9A-Za-z_\-]{35}",
        "Google API key",
        api="DELETE https://apikeys.googleapis.com/v2/projects/:p/locations/global/keys/:k",
        console="https://console.cloud.google.com/apis/credentials",
    ),
    _p(
        "google_oauth_token",
        "google",
        r"ya29\.",
        r"[A-Za-z0-9_\-]{20,2048}",
        "Google OAuth access token",
        api="POST https://oauth2.googleapis.com/revoke",
        console="https://myaccount.google.com/permissions",
    ),
    _p(
        "google_oauth_token",
        "google",
        r"1//0",
        r"[A-Za-z0-9_\-]{40,512}",
        "Google OAuth refresh token",
        api="POST https://oauth2.googleapis.com/revoke",
        console="https://myaccount.google.com/permissions",
    ),
    _p(
        "azure_client_secret",
        "azure",
        r"",
        r"[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}",
        "Microsoft Entra ID client secret",
        api="POST https://graph.microsoft.com/v1.0/applications/:id/removePassword",
        console="Entra admin center > App registrations > Certificates & secrets",
    ),
    _p(
        "digitalocean_token",
        "digitalocean",
        r"do[por]_v1_",
        r"[a-f0-9]{64}",
        "DigitalOcean token",
        api="POST https://cloud.digitalocean.com/v1/oauth/revoke",
        console="https://cloud.digitalocean.com/account/api/tokens",
    ),
    _p(
        "cloudflare_token",
        "cloudflare",
        r"cf(?:at|ut)_",
        r"[A-Za-z0-9]{40,100}",
        "Cloudflare API token",
        api="DELETE https://api.cloudflare.com/client/v4/user/tokens/:token_id",
        console="https://dash.cloudflare.com/profile/api-tokens",
    ),
    _p(
        "cloudflare_token",
        "cloudflare",
        r"v1\.0-",
        r"[a-f0-9]{24}-[a-f0-9]{146}",
        "Cloudflare Origin CA key",
        console="https://dash.cloudflare.com/profile/api-tokens",
    ),
    _p(
        "heroku_token",
        "heroku",
        r"HRKU-AA",
        r"[A-Za-z0-9_\-]{58}",
        "Heroku API token",
        api="DELETE https://api.heroku.com/oauth/authorizations/:id",
        console="https://dashboard.heroku.com/account/applications",
    ),
    _p(
        "fly_token",
        "fly",
        r"fm[12][ra]?_",
        r"[A-Za-z0-9+/=_\-,]{100,}",
        "Fly.io access token",
        api="flyctl tokens revoke :id",
        console="https://fly.io/dashboard (Tokens)",
    ),
    _p(
        "vault_token",
        "vault",
        r"hvs\.",
        r"[A-Za-z0-9_\-]{90,120}",
        "HashiCorp Vault service token",
        api=_VAULT,
    ),
    _p(
        "vault_token",
        "vault",
        r"hvb\.",
        r"[A-Za-z0-9_\-]{138,300}",
        "HashiCorp Vault batch token",
        console="batch tokens cannot be revoked: they expire (revoke their parent)",
    ),
    _p(
        "vault_token",
        "vault",
        r"s\.",
        r"[A-Za-z0-9]{24}",
        "HashiCorp Vault service token (legacy)",
        api=_VAULT,
        scan=False,
        valid=_has_digit,  # base62 random: a letters-only value is a word (``s.thisIsAName``)
    ),
    _p(
        "terraform_token",
        "terraform",
        r"",
        r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,70}",
        "HCP Terraform API token",
        api="DELETE https://app.terraform.io/api/v2/authentication-tokens/:id",
        console="https://app.terraform.io/app/settings/tokens",
    ),
    _p(
        "pulumi_token",
        "pulumi",
        r"pul-",
        r"[a-z0-9]{40}",
        "Pulumi access token",
        api="DELETE https://api.pulumi.com/api/user/tokens/:token_id",
        console="https://app.pulumi.com/account/tokens",
    ),
    _p(
        "doppler_token",
        "doppler",
        r"dp\.(?:pt|st|sa|ct|scim|audit)\.",
        r"[A-Za-z0-9]{40,44}",
        "Doppler token",
        api="POST https://api.doppler.com/v3/auth/revoke",
        console="https://dashboard.doppler.com (Access)",
    ),
    _p(
        "databricks_token",
        "databricks",
        r"dapi",
        r"[a-f0-9]{32}(?:-\d)?",
        "Databricks personal access token",
        api="POST https://:workspace/api/2.0/token/delete",
        console="Databricks workspace > Settings > Developer > Access tokens",
    ),
    _p(
        "planetscale_token",
        "planetscale",
        r"pscale_(?:tkn|oauth|pw)_",
        r"[A-Za-z0-9_\-=.]{32,64}",
        "PlanetScale token",
        api="DELETE https://api.planetscale.com/v1/organizations/:org/service-tokens/:id",
        console="https://app.planetscale.com (Settings > Service tokens)",
    ),
    _p(
        "supabase_token",
        "supabase",
        r"sbp_",
        r"[a-z0-9]{40}",
        "Supabase access token",
        console="https://supabase.com/dashboard/account/tokens",
    ),
    _p(
        "supabase_token",
        "supabase",
        r"sb_secret_",
        r"[A-Za-z0-9_\-]{31,64}",
        "Supabase secret key",
        console="https://supabase.com/dashboard/project/_/settings/api-keys",
    ),
    _p(
        "tailscale_key",
        "tailscale",
        r"tskey-(?:api|auth|client|scim|webhook)-",
        r"[A-Za-z0-9]{10,}-[A-Za-z0-9]{20,}",
        "Tailscale key",
        api="DELETE https://api.tailscale.com/api/v2/tailnet/-/keys/:key_id",
        console="https://login.tailscale.com/admin/settings/keys",
    ),
    _p(
        "netlify_token",
        "netlify",
        r"nf[pcu]_",
        r"[A-Za-z0-9]{36,40}",
        "Netlify access token",
        console="https://app.netlify.com/user/applications",
    ),
    _p(
        "render_key",
        "render",
        r"rnd_",
        r"[A-Za-z0-9]{28,32}",
        "Render API key",
        console="https://dashboard.render.com/u/settings#api-keys",
    ),
    _p(
        "dynatrace_token",
        "dynatrace",
        r"dt0[a-z]\d{2}\.",
        r"[A-Z0-9]{24}\.[A-Z0-9]{64}",
        "Dynatrace API token",
        api="DELETE https://:env/api/v2/apiTokens/:id",
        console="Dynatrace > Access tokens",
    ),
    # -- observability and operations
    _p(
        "grafana_token",
        "grafana",
        r"glc_",
        r"[A-Za-z0-9+/]{32,400}={0,3}",
        "Grafana Cloud access policy token",
        console="https://grafana.com/orgs/:org/access-policies",
    ),
    _p(
        "grafana_token",
        "grafana",
        r"glsa_",
        r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",
        "Grafana service account token",
        api="DELETE $GRAFANA/api/serviceaccounts/:id/tokens/:token_id",
        console="Administration > Service accounts",
    ),
    _p(
        "grafana_token",
        "grafana",
        r"eyJrIjoi",
        r"[A-Za-z0-9]{70,400}={0,3}",
        "Grafana API key",
        api="DELETE $GRAFANA/api/auth/keys/:id",
        console="Configuration > API keys",
    ),
    _p(
        "sentry_token",
        "sentry",
        r"sntryu_",
        r"[a-f0-9]{64}",
        "Sentry user auth token",
        api="DELETE https://sentry.io/api/0/api-tokens/",
        console="https://sentry.io/settings/account/api/auth-tokens/",
    ),
    _p(
        "sentry_token",
        "sentry",
        r"sntrys_eyJpYXQiO",
        r"[A-Za-z0-9+/=_\-]{60,}",
        "Sentry organization auth token",
        console="https://sentry.io/settings/auth-tokens/",
    ),
    _p(
        "newrelic_key",
        "newrelic",
        r"NRAK-",
        r"[A-Z0-9]{27}",
        "New Relic user API key",
        api="POST https://api.newrelic.com/graphql (apiAccessDeleteKeys)",
        console="https://one.newrelic.com/api-keys",
    ),
    _p(
        "newrelic_key",
        "newrelic",
        r"NRII-",
        r"[A-Za-z0-9_\-]{32}",
        "New Relic insert key",
        api="POST https://api.newrelic.com/graphql (apiAccessDeleteKeys)",
        console="https://one.newrelic.com/api-keys",
    ),
    _p(
        "newrelic_key",
        "newrelic",
        r"NRAA-",
        r"[a-f0-9]{27}",
        "New Relic admin API key",
        api="POST https://api.newrelic.com/graphql (apiAccessDeleteKeys)",
        console="https://one.newrelic.com/api-keys",
    ),
    _p(
        "launchdarkly_token",
        "launchdarkly",
        r"(?:api|sdk)-",
        r"[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}",
        "LaunchDarkly access token",
        api="DELETE https://app.launchdarkly.com/api/v2/tokens/:id",
        console="https://app.launchdarkly.com/settings/authorization",
    ),
    # -- messaging, mail and collaboration
    _p(
        "slack_token",
        "slack",
        r"xox[abposr]-",
        r"(?:\d-)?[0-9]{6,}-[A-Za-z0-9\-]{8,}",
        "Slack token",
        api=_SLACK,
        console="https://api.slack.com/apps (OAuth & Permissions)",
    ),
    _p(
        "slack_token",
        "slack",
        r"xoxe\.xox[bp]-",
        r"\d-[A-Za-z0-9]{163,166}",
        "Slack configuration access token",
        api="POST https://slack.com/api/tooling.tokens.rotate",
        console="https://api.slack.com/apps (Your app configuration tokens)",
    ),
    _p(
        "slack_token",
        "slack",
        r"xoxe-",
        r"\d-[A-Za-z0-9]{146}",
        "Slack configuration refresh token",
        api="POST https://slack.com/api/tooling.tokens.rotate",
        console="https://api.slack.com/apps (Your app configuration tokens)",
    ),
    _p(
        "slack_token",
        "slack",
        r"xapp-",
        r"\d-[A-Z0-9]{8,}-\d{6,}-[a-f0-9]{32,}",
        "Slack app-level token",
        api=_SLACK,
        console="https://api.slack.com/apps (Basic Information > App-Level Tokens)",
    ),
    _p(
        "discord_token",
        "discord",
        r"",
        r"[A-Za-z0-9_\-]{23,26}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}",
        "Discord bot token",
        console="https://discord.com/developers/applications (Bot > Reset Token)",
        scan=False,
    ),
    _p(
        "telegram_bot_token",
        "telegram",
        r"\d{5,16}:",
        r"[A-Za-z0-9_\-]{35}",
        "Telegram bot token",
        console="@BotFather: /revoke",
        scan=False,
    ),
    _p(
        "sendgrid_key",
        "sendgrid",
        r"SG\.",
        r"[A-Za-z0-9_\-]{20,24}\.[A-Za-z0-9_\-]{39,50}",
        "SendGrid API key",
        api="DELETE https://api.sendgrid.com/v3/api_keys/:api_key_id",
        console="https://app.sendgrid.com/settings/api_keys",
    ),
    _p(
        "mailgun_key",
        "mailgun",
        r"(?:pub)?key-",
        r"[a-z0-9]{32}",
        "Mailgun API key",
        api="DELETE https://api.mailgun.net/v1/keys/:key_id",
        console="https://app.mailgun.com/settings/api_security",
    ),
    _p(
        "mailchimp_key",
        "mailchimp",
        r"",
        r"[0-9a-f]{32}-us\d{1,2}",
        "Mailchimp API key",
        console="https://admin.mailchimp.com/account/api/",
    ),
    _p(
        "brevo_key",
        "brevo",
        r"x(?:keysib|smtpsib)-",
        r"[A-Za-z0-9_\-]{60,100}",
        "Brevo (Sendinblue) API key",
        console="https://app.brevo.com/settings/keys/api",
    ),
    _p(
        "twilio_api_key",
        "twilio",
        r"SK",
        r"[0-9a-f]{32}",
        "Twilio API key SID",
        api="DELETE https://api.twilio.com/2010-04-01/Accounts/:AccountSid/Keys/:Sid.json",
        console="https://console.twilio.com (API keys & tokens)",
        scan=False,
    ),
    _p(
        "notion_token",
        "notion",
        r"secret_",
        r"[A-Za-z0-9]{43}",
        "Notion integration token",
        console="https://www.notion.so/my-integrations",
    ),
    _p(
        "notion_token",
        "notion",
        r"ntn_",
        r"[0-9]{11}[A-Za-z0-9]{32,35}",
        "Notion integration token",
        console="https://www.notion.so/my-integrations",
    ),
    _p(
        "linear_key",
        "linear",
        r"lin_api_",
        r"[A-Za-z0-9]{40}",
        "Linear API key",
        console="https://linear.app/settings/account/security",
    ),
    _p(
        "linear_key",
        "linear",
        r"lin_oauth_",
        r"[a-f0-9]{64}",
        "Linear OAuth token",
        api="POST https://api.linear.app/oauth/revoke",
        console="https://linear.app/settings/account/security",
    ),
    _p(
        "airtable_token",
        "airtable",
        r"pat",
        r"[A-Za-z0-9]{14}\.[a-f0-9]{64}",
        "Airtable personal access token",
        console="https://airtable.com/create/tokens",
    ),
    _p(
        "asana_token",
        "asana",
        r"\d{1,16}/\d{16,32}(?:/\d{16,32})?:",
        r"[A-Za-z0-9]{32,128}",
        "Asana personal access token",
        console="https://app.asana.com/0/my-apps",
        scan=False,
    ),
    _p(
        "hubspot_token",
        "hubspot",
        r"pat-(?:na|eu|ap)\d-",
        _HEX32,
        "HubSpot private app token",
        console="HubSpot > Settings > Integrations > Private apps (rotate)",
    ),
    _p(
        "intercom_token",
        "intercom",
        r"dG9rO",
        r"[A-Za-z0-9+/]{50,120}={0,2}",
        "Intercom access token",
        console="https://app.intercom.com/a/developer-signup (Authentication)",
        valid=_starts_decoded(b"tok:"),
    ),
    _p(
        "figma_token",
        "figma",
        r"fig[a-z]_",
        r"[A-Za-z0-9_\-+/=]{38,45}",
        "Figma access token",
        console="https://www.figma.com/settings (Security > Personal access tokens)",
    ),
    _p(
        "postman_key",
        "postman",
        r"PMAK-",
        r"(?:[A-Za-z0-9]{24}-[A-Za-z0-9]{34}|[A-Za-z0-9]{59})",
        "Postman API key",
        console="https://go.postman.co/settings/me/api-keys",
    ),
    _p(
        "okta_token",
        "okta",
        r"00",
        r"[A-Za-z0-9_\-]{40}",
        "Okta API token",
        api="DELETE https://:org.okta.com/api/v1/api-tokens/current",
        console="Okta admin > Security > API > Tokens",
        scan=False,
    ),
    _p(
        "mapbox_token",
        "mapbox",
        r"(?:sk|tk)\.eyJ",
        r"[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{22}",
        "Mapbox secret token",
        api="DELETE https://api.mapbox.com/tokens/v2/:username/:token_id",
        console="https://account.mapbox.com/access-tokens/",
    ),
    # -- AI and data APIs
    _p(
        "openai_key",
        "openai",
        r"sk-(?:proj-|svcacct-|admin-)?",
        r"[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}",
        "OpenAI API key",
        api="DELETE https://api.openai.com/v1/organization/projects/:project/api_keys/:key_id",
        console="https://platform.openai.com/api-keys",
    ),
    _p(
        "openai_key",
        "openai",
        r"sk-(?:proj|svcacct|admin)-",
        r"[A-Za-z0-9_\-]{74,250}",
        "OpenAI API key",
        api="DELETE https://api.openai.com/v1/organization/projects/:project/api_keys/:key_id",
        console="https://platform.openai.com/api-keys",
    ),
    _p(
        "anthropic_key",
        "anthropic",
        r"sk-ant-(?:api|admin)\d\d-",
        r"[A-Za-z0-9_\-]{93}AA",
        "Anthropic API key",
        console="https://console.anthropic.com/settings/keys",
    ),
    _p(
        "openrouter_key",
        "openrouter",
        r"sk-or-v1-",
        r"[a-f0-9]{64}",
        "OpenRouter API key",
        console="https://openrouter.ai/settings/keys",
    ),
    _p(
        "deepseek_key",
        "deepseek",
        r"sk-",
        r"[a-f0-9]{32}",
        "DeepSeek API key",
        console="https://platform.deepseek.com/api_keys",
    ),
    _p(
        "huggingface_token",
        "huggingface",
        r"(?:hf_|api_org_)",
        r"[A-Za-z0-9]{34}",
        "Hugging Face access token",
        console="https://huggingface.co/settings/tokens",
    ),
    _p(
        "groq_key",
        "groq",
        r"gsk_",
        r"[A-Za-z0-9]{52}",
        "Groq API key",
        console="https://console.groq.com/keys",
    ),
    _p(
        "xai_key",
        "xai",
        r"xai-",
        r"[A-Za-z0-9]{80}",
        "xAI API key",
        console="https://console.x.ai (API keys)",
    ),
    _p(
        "replicate_token",
        "replicate",
        r"r8_",
        r"[A-Za-z0-9]{37}",
        "Replicate API token",
        console="https://replicate.com/account/api-tokens",
    ),
    _p(
        "perplexity_key",
        "perplexity",
        r"pplx-",
        r"[A-Za-z0-9]{48}",
        "Perplexity API key",
        console="https://www.perplexity.ai/settings/api",
    ),
    _p(
        "pinecone_key",
        "pinecone",
        r"pcsk_",
        r"[A-Za-z0-9]{5,6}_[A-Za-z0-9]{60,70}",
        "Pinecone API key",
        console="https://app.pinecone.io (API keys)",
    ),
    _p(
        "langsmith_key",
        "langsmith",
        r"lsv2_(?:pt|sk)_",
        r"[a-f0-9]{32}_[a-f0-9]{10}",
        "LangSmith API key",
        console="https://smith.langchain.com/settings",
    ),
    _p(
        "elevenlabs_key",
        "elevenlabs",
        r"sk_",
        r"[a-f0-9]{48}",
        "ElevenLabs API key",
        console="https://elevenlabs.io/app/settings/api-keys",
    ),
    _p(
        "age_secret_key",
        "age",
        r"AGE-SECRET-KEY-1",
        r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        "age secret key",
        console="not revocable: re-encrypt what it protects with a new key",
    ),
)

# Where the provider documents the place, not the format: a key is named by its header, its
# Authorization scheme or the Basic user it travels with, and must still have the documented
# alphabet and length (and not be a placeholder).
CONTEXT_PATTERNS: tuple[ProviderPattern, ...] = (
    _c(
        "header:ddapikey",
        "datadog_api_key",
        "datadog",
        r"[A-Za-z0-9_\-]{32}",
        "Datadog API key",
        api="DELETE https://api.datadoghq.com/api/v2/api_keys/:api_key_id",
        console="https://app.datadoghq.com/organization-settings/api-keys",
    ),
    _c(
        "header:ddapplicationkey",
        "datadog_app_key",
        "datadog",
        r"[A-Za-z0-9_\-]{40}",
        "Datadog application key",
        api="DELETE https://api.datadoghq.com/api/v2/application_keys/:app_key_id",
        console="https://app.datadoghq.com/organization-settings/application-keys",
    ),
    _c(
        "header:fastlykey",
        "fastly_token",
        "fastly",
        r"[A-Za-z0-9_\-]{32}",
        "Fastly API token",
        api="DELETE https://api.fastly.com/tokens/self",
        console="https://manage.fastly.com/account/personal/tokens",
    ),
    _c(
        "header:xnugetapikey",
        "nuget_key",
        "nuget",
        r"[A-Za-z0-9]{46}",
        "NuGet API key",
        console="https://www.nuget.org/account/apikeys",
    ),
    _c(
        "header:xiapikey",
        "elevenlabs_key",
        "elevenlabs",
        r"[a-f0-9]{32}",
        "ElevenLabs API key (legacy)",
        console="https://elevenlabs.io/app/settings/api-keys",
    ),
    _c(
        "header:circletoken",
        "circleci_token",
        "circleci",
        r"[a-f0-9]{40}",
        "CircleCI personal API token (legacy)",
        console="https://app.circleci.com/settings/user/tokens",
    ),
    _c(
        "header:ocpapimsubscriptionkey",
        "azure_apim_key",
        "azure",
        r"[a-z0-9]{32}",
        "Azure API Management subscription key",
        api="POST https://management.azure.com/.../subscriptions/:sid/regeneratePrimaryKey",
        console="Azure portal > API Management > Subscriptions (regenerate key)",
    ),
    _c(
        "header:apikey",
        "azure_openai_key",
        "azure",
        r"[a-f0-9]{32}",
        "Azure AI services key",
        api="POST https://management.azure.com/.../accounts/:name/regenerateKey",
        console="Azure portal > the resource > Keys and Endpoint (regenerate)",
    ),
    _c(
        "header:xpostmarkservertoken",
        "postmark_token",
        "postmark",
        r"[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}",
        "Postmark server token",
        console="https://account.postmarkapp.com/servers (API Tokens)",
    ),
    _c(
        "header:xpostmarkaccounttoken",
        "postmark_token",
        "postmark",
        r"[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}",
        "Postmark account token",
        console="https://account.postmarkapp.com/api_tokens",
    ),
    _c(
        "header:privatetoken",
        "gitlab_token",
        "gitlab",
        r"[A-Za-z0-9_\-]{20}",
        "GitLab personal access token (legacy)",
        api=_GITLAB,
        console=_GITLAB_UI,
    ),
    _c(
        "header:xalgoliaapikey",
        "algolia_key",
        "algolia",
        r"[a-f0-9]{32}",
        "Algolia API key",
        api="DELETE https://:app-id.algolia.net/1/keys/:key",
        console="https://dashboard.algolia.com/account/api-keys",
    ),
    _c(
        "header:xauthkey",
        "cloudflare_global_key",
        "cloudflare",
        r"[a-f0-9]{37}",
        "Cloudflare global API key",
        console="https://dash.cloudflare.com/profile/api-tokens (roll Global API Key)",
    ),
    _c(
        "header:xtrackertoken",
        "pivotaltracker_token",
        "pivotaltracker",
        r"[a-f0-9]{32}",
        "Pivotal Tracker API token",
        console="https://www.pivotaltracker.com/profile",
    ),
    _c(
        "scheme:ssws",
        "okta_token",
        "okta",
        r"[A-Za-z0-9_\-]{42}",
        "Okta API token",
        api="DELETE https://:org.okta.com/api/v1/api-tokens/current",
        console="Okta admin > Security > API > Tokens",
    ),
    _c(
        r"basic-user:AC[0-9a-f]{32}",
        "twilio_auth_token",
        "twilio",
        r"[0-9a-f]{32}",
        "Twilio auth token",
        console="https://console.twilio.com (Account > API keys & tokens: rotate auth token)",
    ),
    _c(
        r"basic-user:SK[0-9a-f]{32}",
        "twilio_api_key",
        "twilio",
        r"[A-Za-z0-9]{32}",
        "Twilio API key secret",
        api="DELETE https://api.twilio.com/2010-04-01/Accounts/:AccountSid/Keys/:Sid.json",
        console="https://console.twilio.com (API keys & tokens)",
    ),
    _c(
        r"basic-user:[^/\s]{1,254}/token",
        "zendesk_token",
        "zendesk",
        r"[A-Za-z0-9]{40}",
        "Zendesk API token",
        api="DELETE https://:subdomain.zendesk.com/api/v2/api_tokens/:id",
        console="Zendesk Admin Center > Apps and integrations > Zendesk API",
    ),
)

# Documented API hosts of providers whose keys carry no marker of their own: a secret sent to the
# provider's API (a bearer token, an API-key header, a Basic password) is that provider's
# credential (Heroku's and npm's legacy UUID keys, Cloudflare's and Vercel's tokens,
# Atlassian's 24-character tokens). Providers with a documented format are named by it only: a
# value sent to their API without it is a near miss, not their key. ``.example.com`` matches
# the domain and its subdomains.
_HOST_BODY = r"[A-Za-z0-9_\-.~+/=:]{16,512}"
API_HOSTS: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    # provider, kind, label, hosts, where it is revoked
    (
        "atlassian",
        "atlassian_token",
        "Atlassian API token",
        (".atlassian.net", "api.atlassian.com"),
        "https://id.atlassian.com/manage-profile/security/api-tokens",
    ),
    (
        "azure",
        "azure_devops_token",
        "Azure DevOps personal access token",
        ("dev.azure.com", ".visualstudio.com"),
        "Azure DevOps > User settings > Personal access tokens",
    ),
    (
        "cloudflare",
        "cloudflare_token",
        "Cloudflare API token",
        ("api.cloudflare.com",),
        "https://dash.cloudflare.com/profile/api-tokens",
    ),
    (
        "digitalocean",
        "digitalocean_token",
        "DigitalOcean token",
        ("api.digitalocean.com",),
        "https://cloud.digitalocean.com/account/api/tokens",
    ),
    (
        "heroku",
        "heroku_token",
        "Heroku API key",
        ("api.heroku.com",),
        "https://dashboard.heroku.com/account (regenerate API key)",
    ),
    (
        "netlify",
        "netlify_token",
        "Netlify access token",
        ("api.netlify.com",),
        "https://app.netlify.com/user/applications",
    ),
    (
        "npm",
        "npm_token",
        "npm access token",
        ("registry.npmjs.org",),
        "https://www.npmjs.com/settings/~/tokens",
    ),
    (
        "vercel",
        "vercel_token",
        "Vercel access token",
        ("api.vercel.com",),
        "https://vercel.com/account/tokens",
    ),
    (
        "twitch",
        "twitch_token",
        "Twitch access token",
        ("api.twitch.tv", "id.twitch.tv"),
        "POST https://id.twitch.tv/oauth2/revoke",
    ),
    (
        "pagerduty",
        "pagerduty_key",
        "PagerDuty API key",
        ("api.pagerduty.com",),
        "PagerDuty > Integrations > API Access Keys",
    ),
    (
        "snyk",
        "snyk_token",
        "Snyk API token",
        ("api.snyk.io", "snyk.io"),
        "https://app.snyk.io/account (revoke & regenerate)",
    ),
    (
        "railway",
        "railway_token",
        "Railway API token",
        ("backboard.railway.app", "backboard.railway.com"),
        "https://railway.com/account/tokens",
    ),
    (
        "wandb",
        "wandb_key",
        "Weights & Biases API key",
        ("api.wandb.ai",),
        "https://wandb.ai/authorize",
    ),
    (
        "zendesk",
        "zendesk_token",
        "Zendesk API token",
        (".zendesk.com",),
        "Zendesk Admin Center > Apps and integrations > Zendesk API",
    ),
    (
        "mailgun",
        "mailgun_key",
        "Mailgun API key",
        ("api.mailgun.net", "api.eu.mailgun.net"),
        "DELETE https://api.mailgun.net/v1/keys/:key_id",
    ),
)


def _host_patterns() -> tuple[ProviderPattern, ...]:
    out = []
    for provider, kind, label, hosts, where in API_HOSTS:
        api = where if where.split(" ", 1)[0] in ("POST", "DELETE") else None
        for host in hosts:
            out.append(
                _p(
                    kind,
                    provider,
                    "",
                    _HOST_BODY,
                    f"{label} (named by its API host)",
                    api=api,
                    console=None if api else where,
                    scan=False,
                    context=f"host:{host}",
                )
            )
    return tuple(out)


HOST_PATTERNS = _host_patterns()
_HOST_TOKEN = re.compile(f"^(){_HOST_BODY}$")


def match_host(host: str | None, token: str) -> ProviderKey | None:
    """The provider whose documented API host ``token`` was sent to, or None: only for a value
    of token characters, 16 or more, not a placeholder and not a word or number."""
    if not host or _HOST_TOKEN.match(token) is None or placeholder(token):
        return None
    if not looks_secret(token) and near_miss(token) not in ("uuid", "hex digest"):
        return None  # keys are random (legacy ones: a UUID, hex), not words or names
    name = host.lower().rsplit(":", 1)[0] if host.count(":") == 1 else host.lower()
    for pattern in HOST_PATTERNS:
        assert pattern.context is not None
        suffix = pattern.context[5:]
        if name == suffix or (suffix.startswith(".") and name.endswith(suffix)):
            return ProviderKey(token, pattern, "")
    return None


_EXACT = [(p, re.compile(f"^({p.prefix_re}){p.body_re}$")) for p in PATTERNS]
_IN_CONTEXT: dict[str, list[tuple[ProviderPattern, re.Pattern[str]]]] = {}
_BASIC_USERS: list[tuple[re.Pattern[str], ProviderPattern, re.Pattern[str]]] = []
for _pattern in CONTEXT_PATTERNS:
    assert _pattern.context is not None
    _body = re.compile(f"^(){_pattern.body_re}$")
    if _pattern.context.startswith("basic-user:"):
        _user = re.compile(_pattern.context.split(":", 1)[1] + "$")
        _BASIC_USERS.append((_user, _pattern, _body))
    else:
        _IN_CONTEXT.setdefault(_pattern.context, []).append((_pattern, _body))
_SCANNED = [p for p in PATTERNS if p.scan and p.prefix_re]
# One boundary check around the alternation, not one per alternative: the same matches, ~10x
# faster (every body and query value of an ingest goes through this scan). Compiled when a text
# first holds a documented prefix (``_scan``): most captures never do, and its hundred-odd
# alternatives take about 8 ms to compile, before an ingest forks its readers.
_SCAN_SOURCE: Final = (
    "(?<![A-Za-z0-9_\\-])(?:"
    + "|".join(f"(?:{p.prefix_re}){p.body_re}" for p in _SCANNED)
    + ")(?![A-Za-z0-9_\\-])"
)
_SCAN: list[re.Pattern[str]] = []  # the compiled scan, once asked for


def _scan() -> re.Pattern[str]:
    """The scan for whole provider keys in free text, compiled on first use."""
    if not _SCAN:
        _SCAN.append(re.compile(_SCAN_SOURCE))
    return _SCAN[0]


_OPTIONAL_GROUP = re.compile(r"\(\?:[^()]*\)\?")
_GROUP = re.compile(r"\(\?:([^()]*)\)")
_ATOM = re.compile(r"(\\.|\[[^\]]*\]|[^{])(?:\{(\d+)(?:,\d*)?\})?")


def shortest_prefix(prefix_re: str) -> int:
    """The fewest characters a prefix regex matches (the simple regexes of PATTERNS: literals,
    escapes, classes, ``{m,n}``, optional and alternative groups)."""
    text = _OPTIONAL_GROUP.sub("", prefix_re)
    text = _GROUP.sub(lambda m: min(m.group(1).split("|"), key=len), text)
    return sum(int(m.group(2) or 1) for m in _ATOM.finditer(text))


def _gate(pattern: ProviderPattern) -> str:
    """What the first pass looks for: the prefix, or the whole pattern when the prefix is too
    short to be rare in text (``pat``, ``sk-``, ``key-`` occur in words and paths)."""
    if shortest_prefix(pattern.prefix_re) >= 5:
        return pattern.prefix_re
    return pattern.prefix_re + pattern.body_re


_LEADING_GROUP = re.compile(r"\(\?:([^()|]*(?:\|[^()|]*)*)\)(\?)?")


def _literal_led(fragment: str) -> list[str]:
    """``fragment`` as alternatives that each begin outside a group: a leading ``(?:a|b)``
    (optional or not, without nested groups) is spelled out (``(?:pub)?key`` -> ``pubkey``,
    ``key``), the same text matched."""
    found = _LEADING_GROUP.match(fragment)
    if found is None or "[" in found.group(1) or "\\" in found.group(1):
        return [fragment]  # a class or an escape inside: left whole
    rest = fragment[found.end() :]
    alternatives = [choice + rest for choice in found.group(1).split("|")]
    if found.group(2):
        alternatives.append(rest)
    return [led for alternative in alternatives for led in _literal_led(alternative)]


def _bar_outside_groups(regex: str) -> bool:
    """Whether ``regex`` is an alternation at its top level (``ab|cd``)."""
    depth, in_class, escaped = 0, False, False
    for char in regex:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and not depth:
            return True
    return False


def by_first_character(fragments: list[str]) -> str:
    """One regex matching what any of ``fragments`` matches, its alternatives grouped by their
    first character (``a(?:x|y)|b(?:z)``). Python's ``re`` tries every alternative at every
    position of a text; an alternation whose branches all begin with a literal character
    gives it a set of first characters to skip the other positions with, in C, and leaves a
    few branches to try where one matches: about 8 times faster on free text than the plain
    alternation of about a hundred prefixes, and the same matches."""
    groups: dict[str, list[str]] = {}
    others: list[str] = []
    for fragment in fragments:
        for led in _literal_led(fragment):
            first = led[:1]
            if (
                (first.isalnum() or first == "_")
                and led[1:2] not in ("?", "*", "+", "{")
                and not _bar_outside_groups(led)
            ):
                groups.setdefault(first, []).append(led[1:])
            else:
                others.append(led)  # begins with a class, an escape...: tried as it is
    parts = [f"{first}(?:{'|'.join(rests)})" for first, rests in groups.items()]
    return "|".join(parts + [f"(?:{other})" for other in others])


# Any documented prefix, without boundaries: a fast first pass over free text (most texts hold
# none; the live capture and the file reader scan every body with it). The regex itself tries
# its hundred-odd branches at every character (150-300 ns a character); ``_HEADS`` gives its
# answer in one pass (about 10 ns a character compiled), confirming with it where a head is.
_GATES = [_gate(p) for p in _SCANNED]
_PREFIXES = re.compile(by_first_character(_GATES))
_HEADS = HeadScan(_PREFIXES, _GATES)
_SHORTEST = 20  # AKIA + 16, the shortest key scanned for


@dataclass(frozen=True, slots=True)
class ProviderKey:
    """A provider key found in a value: the raw token (caller must drop it) and its facts."""

    token: str
    pattern: ProviderPattern
    prefix: str
    checksum_ok: bool | None = None  # None: the format defines no checksum

    @property
    def public_facts(self) -> dict[str, str]:
        facts = {
            "provider": self.pattern.provider,
            "key_type": self.pattern.label,
            "prefix": self.prefix,
        }
        if "_live_" in self.prefix:
            facts["mode"] = "live"
        elif "_test_" in self.prefix:
            facts["mode"] = "test"
        if self.checksum_ok is not None:
            facts["checksum"] = "valid" if self.checksum_ok else "invalid"
        if self.pattern.revoke_api:  # where it is revoked: the revocation runbook's step
            facts["revoke_api"] = self.pattern.revoke_api
        if self.pattern.revoke_console:
            facts["revoke_console"] = self.pattern.revoke_console
        return facts


def match_provider(token: str) -> ProviderKey | None:
    """The provider key that ``token`` is exactly, or None (placeholders never match)."""
    if len(token) < 12:
        return None
    for pattern, exact in _EXACT:
        match = exact.match(token)
        if match is None or (pattern.valid is not None and not pattern.valid(token)):
            continue
        prefix = match.group(1)
        if placeholder(token, len(prefix)):
            return None
        checksum = pattern.checksum(token) if pattern.checksum is not None else None
        return ProviderKey(token, pattern, prefix, checksum)
    return None


def _contextual(
    candidates: list[tuple[ProviderPattern, re.Pattern[str]]], token: str
) -> ProviderKey | None:
    for pattern, body in candidates:
        if body.match(token) and not placeholder(token):
            return ProviderKey(token, pattern, "")
    return None


def match_in_context(context: str, token: str) -> ProviderKey | None:
    """The provider key ``token`` is where it travels (``header:<squashed name>`` or
    ``scheme:<lower-case scheme>``): by its own format first, else by the place's."""
    key = match_provider(token)
    if key is not None:
        return key
    candidates = _IN_CONTEXT.get(context)
    return _contextual(candidates, token) if candidates else None


def match_basic(user: str, password: str) -> ProviderKey | None:
    """The provider key a Basic password is, given the user it travels with (a Twilio SID,
    Zendesk's ``email/token``)."""
    for user_re, pattern, body in _BASIC_USERS:
        if user_re.match(user) and body.match(password) and not placeholder(password):
            return ProviderKey(password, pattern, "")
    return None


def may_hold_key(text: str) -> bool:
    """False when ``text`` cannot hold a provider key found by ``find_provider_keys`` (no
    documented prefix at all): a cheap first test for long texts."""
    return len(text) >= _SHORTEST and _HEADS.search(text)


def find_provider_keys(text: str) -> Iterator[ProviderKey]:
    """Every provider key inside free text (where a checksum is defined, it must hold: in
    free text a failed checksum says "not a key"; a whole credential value that fails it is
    still named, with the failure kept as a fact)."""
    if len(text) < _SHORTEST or not _HEADS.search(text):
        return  # most values hold no documented prefix at all: one cheap scan says so
    for match in _scan().finditer(text):
        key = match_provider(match.group(0))
        if key is not None and key.checksum_ok is not False:
            yield key


def providers() -> list[str]:
    """The providers whose keys are named, in alphabetical order."""
    return sorted({p.provider for p in (*PATTERNS, *CONTEXT_PATTERNS, *HOST_PATTERNS)})


def revocation(provider: str, label: str | None = None) -> dict[str, str] | None:
    """Where a provider's key (of this label, if given) is revoked: ``{"api", "console"}``."""
    for pattern in (*PATTERNS, *CONTEXT_PATTERNS, *HOST_PATTERNS):
        if pattern.provider == provider and (label is None or pattern.label == label):
            out = {"provider": provider}
            if pattern.revoke_api:
                out["api"] = pattern.revoke_api
            if pattern.revoke_console:
                out["console"] = pattern.revoke_console
            return out
    return None
