##! ir-console: log a keyed HMAC-SHA256 of each credential header in http.log.
##!
##! Zeek logs only a Basic-auth username by default. With this script, http.log gains the field
##! ``irc_cred_hmacs``: one ``name:scheme:hmac`` entry per credential header of the request
##! (Authorization, Proxy-Authorization, X-API-Key, Api-Key, X-Auth-Token, …), where ``hmac`` is
##! HMAC-SHA256 under the deployment's key of the credential itself (the token after
##! "Bearer ", the base64 blob after "Basic ", or the whole value of an API-key header).
##! The same credential always gives the same HMAC, so `ir-console ingest http.log` can count it
##! across sensors without any raw secret leaving them. Nothing is logged while no key is set.
##!
##! Zeek script has no byte XOR, so the key enters as its two HMAC pads (hex, 64 bytes each),
##! printed by ``discovery.sources.zeek.hmac_pads`` (see README, "Zeek at scale"):
##!
##!   @load ./ir_console_credentials
##!   redef IRConsole::ipad_hex = "3636…";
##!   redef IRConsole::opad_hex = "5c5c…";

@load base/protocols/http

module IRConsole;

export {
	## HMAC-SHA256 inner pad of the deployment key (K xor 0x36.., 64 bytes as hex).
	const ipad_hex = "" &redef;
	## HMAC-SHA256 outer pad of the deployment key (K xor 0x5c.., 64 bytes as hex).
	const opad_hex = "" &redef;
	## Request headers whose values are credentials (Zeek upper-cases header names).
	const credential_headers: set[string] = {
		"AUTHORIZATION", "PROXY-AUTHORIZATION", "X-API-KEY", "API-KEY", "X-AUTH-TOKEN",
		"X-ACCESS-TOKEN", "PRIVATE-TOKEN",
	} &redef;
	## Headers whose value is "scheme credentials".
	const scheme_headers: set[string] = { "AUTHORIZATION", "PROXY-AUTHORIZATION" } &redef;
}

redef record HTTP::Info += {
	## One "name:scheme:hmac-sha256-hex" per credential header (scheme empty for API-key headers).
	irc_cred_hmacs: vector of string &log &optional;
};

global ipad = "";
global opad = "";

event zeek_init()
	{
	if ( |ipad_hex| == 128 && |opad_hex| == 128 )
		{
		ipad = hexstr_to_bytestring(ipad_hex);
		opad = hexstr_to_bytestring(opad_hex);
		}
	else if ( |ipad_hex| > 0 || |opad_hex| > 0 )
		Reporter::warning("IRConsole: ipad_hex/opad_hex must be 128 hex digits; HMACs disabled");
	}

function hmac_sha256(msg: string): string
	{
	return sha256_hash(opad, hexstr_to_bytestring(sha256_hash(ipad, msg)));
	}

event http_header(c: connection, is_orig: bool, original_name: string, name: string, value: string) &priority=3
	{
	if ( ! is_orig || ipad == "" || ! c?$http || name !in credential_headers )
		return;

	local scheme = "";
	local secret = strip(value);
	if ( name in scheme_headers )
		{
		local parts = split_string1(secret, / +/);
		if ( |parts| == 2 )
			{
			scheme = to_lower(parts[0]);
			secret = strip(parts[1]);
			}
		}
	if ( secret == "" )
		return;

	if ( ! c$http?$irc_cred_hmacs )
		c$http$irc_cred_hmacs = vector();
	c$http$irc_cred_hmacs[|c$http$irc_cred_hmacs|] = fmt("%s:%s:%s", to_lower(name), scheme,
	                                                   hmac_sha256(secret));
	}
