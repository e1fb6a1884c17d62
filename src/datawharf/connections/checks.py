"""Input checks for a connection, each mistake with its own ``error_code`` and the fix in the message.

Run before anything is saved or any request leaves, so a refused create or update changes nothing.
"""

from __future__ import annotations

import re
from contextlib import suppress
from urllib.parse import urlsplit

from datawharf.errors import InvalidInput, UpstreamUnavailable
from datawharf.s3.client import validate_headers
from datawharf.s3.locations import S3Location, known_aws_regions, parse_location
from datawharf.s3.netguard import check_endpoint
from datawharf.settings import Settings

# Region names of S3-compatible providers (OVH "gra", MinIO "us-east-1", R2 "auto"...).
_REGION_SYNTAX = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ACCESS_KEY_SYNTAX = re.compile(r"^[\x21-\x7e]{1,256}$")  # printable ASCII, no spaces
# arn:<partition>:iam::<12 digits>:role/<optional path/>name (IAM's role name characters)
ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):role/"
    r"(?P<name>(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64})$"
)


def check_url(settings: Settings, url: str | None, *, required: bool) -> S3Location | None:
    """Parse the connection URL and refuse one pointing at a private address (unless allowed)."""
    if url is None or not url.strip():
        if required:
            raise InvalidInput(
                "A signature v4 connection needs a URL: give the bucket's or the endpoint's URL, e.g. "
                "https://mybucket.s3.eu-west-3.amazonaws.com/ or https://s3.gra.io.cloud.ovh.net/mybucket/.",
                error_code="missing_url",
            )
        return None
    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:  # "http://[::1": parse_location below refuses it as malformed_url
        host = ""
    if host == "amazon.com" or host.endswith((".amazon.com", ".aws")):
        raise InvalidInput(
            f"{host} is an AWS web page (the console), not the S3 API: open the object in the S3 console "
            "and copy its 'Object URL', e.g. https://mybucket.s3.eu-west-3.amazonaws.com/file.csv.",
            error_code="not_an_s3_url",
        )
    location = parse_location(url)
    if location.endpoint_url is not None:
        # A name that does not resolve today is for validation to report, not an input error.
        with suppress(UpstreamUnavailable):
            check_endpoint(location.endpoint_url, settings)
    return location


def is_region_shaped(region: str) -> bool:
    """Lowercase letters, digits and hyphens: what every provider's region looks like. Only such a
    value is ever repeated in a message or a form; anything else may be a secret typed in the wrong
    field (a password manager filling the first empty field, a paste into the wrong box)."""
    return _REGION_SYNTAX.match(region.strip()) is not None


def check_region(region: str, location: S3Location | None) -> str:
    region = region.strip()
    if not region:
        raise InvalidInput(
            "The region is empty: give the bucket's region, e.g. eu-west-3 (AWS) or gra (OVH).",
            error_code="missing_region",
        )
    if not is_region_shaped(region):
        raise InvalidInput(
            "The region is not written as a region name: it has only lowercase letters, digits and "
            "hyphens (at most 63), e.g. eu-west-3 or us-east-1 (AWS), gra (OVH), auto (R2). The value "
            "is not repeated here: it may be a secret typed in the wrong field.",
            error_code="malformed_region",
        )
    is_aws = location is None or location.provider == "aws"
    if is_aws and region not in known_aws_regions():
        raise InvalidInput(
            f"{region!r} is not a known region: give the bucket's region as AWS writes it (e.g. eu-west-3, "
            "us-east-1), or the provider's region for an S3-compatible endpoint.",
            error_code="unknown_region",
            detail={"region": region},
        )
    misspelt = None if is_aws or _spells_its_own(location) else _misspelt_aws_region(region)
    if misspelt is not None:
        raise InvalidInput(
            f"{region!r} is not a region: it is AWS's {misspelt} misspelt (S3-compatible servers name their "
            f"regions after AWS's; MinIO's default is us-east-1). Set the region to {misspelt}, or to the "
            "provider's own region name.",
            error_code="unknown_region",
            detail={"region": region, "did_you_mean": misspelt},
        )
    if location is not None and location.region and location.region != region:
        raise InvalidInput(
            f"The URL is in region {location.region} but the connection's region is {region}: set the "
            f"region to {location.region}.",
            error_code="region_mismatch",
            detail={"region": region, "url_region": location.region},
        )
    return region


def _misspelt_aws_region(region: str) -> str | None:
    """The AWS region ``region`` spells with its hyphens off (``us-east1``, ``useast-1``), if any."""
    if region in known_aws_regions():
        return None
    squeezed = region.replace("-", "")
    return next((known for known in sorted(known_aws_regions()) if known.replace("-", "") == squeezed), None)


def _spells_its_own(location: S3Location | None) -> bool:
    """Google Cloud Storage's own regions are spelled ``us-east1``: there it is no typo."""
    host = (urlsplit(location.endpoint_url or "").hostname or "") if location else ""
    return host == "googleapis.com" or host.endswith(".googleapis.com")


def check_access_key_id(access_key_id: str) -> str:
    access_key_id = access_key_id.strip()
    if not access_key_id:
        raise InvalidInput(
            "The access key ID is empty: give the key's ID (e.g. AKIA...), from the provider's console.",
            error_code="empty_access_key_id",
        )
    if not _ACCESS_KEY_SYNTAX.match(access_key_id):
        raise InvalidInput(
            "The access key ID contains spaces or control characters: paste the key's ID alone.",
            error_code="invalid_access_key_id",
        )
    return access_key_id


def check_secret(secret: str) -> str:
    if not secret.strip():
        raise InvalidInput(
            "The secret access key is empty: give the secret shown when the access key was created.",
            error_code="empty_secret_access_key",
        )
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in secret) or secret != secret.strip():
        raise InvalidInput(
            "The secret access key contains spaces, a newline or control characters: paste the secret alone.",
            error_code="invalid_secret_access_key",
        )
    return secret


def check_headers(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(validate_headers(pairs))


def check_role_arn(role_arn: str) -> str:
    role_arn = role_arn.strip()
    if role_arn and not ROLE_ARN.match(role_arn):
        raise InvalidInput(
            "The role ARN is not written as one: copy it from the role's page in the IAM console; it "
            "reads arn:aws:iam::<12-digit account>:role/<name> (aws-cn or aws-us-gov partitions also "
            "work). The value is not repeated here: it may be a secret typed in the wrong field.",
            error_code="malformed_role_arn",
        )
    return role_arn
