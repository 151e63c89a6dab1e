/* status.c - metav1.Status bodies and the one mapping from error kinds to HTTP. */
#include "status.h"

#include "adapter/util/strbuf.h"

static const struct {
	int code;
	const char *reason;
} map[] = {
	[EM_OK] = {200, ""},
	[EM_E_BADREQUEST] = {400, "BadRequest"},
	[EM_E_UNAUTHORIZED] = {401, "Unauthorized"},
	[EM_E_FORBIDDEN] = {403, "Forbidden"},
	[EM_E_NOTFOUND] = {404, "NotFound"},
	[EM_E_METHOD] = {405, "MethodNotAllowed"},
	[EM_E_NOTACCEPTABLE] = {406, "NotAcceptable"},
	[EM_E_TOOMANY] = {429, "TooManyRequests"},
	[EM_E_INTERNAL] = {500, "InternalError"},
	[EM_E_UNAVAILABLE] = {503, "ServiceUnavailable"},
	[EM_E_CONFIG] = {500, "InternalError"},
};

int em_status_code(enum em_errkind kind)
{
	if ((unsigned)kind >= sizeof(map) / sizeof(map[0]))
		return 500;
	return map[kind].code;
}

const char *em_status_reason(enum em_errkind kind)
{
	if ((unsigned)kind >= sizeof(map) / sizeof(map[0]))
		return "InternalError";
	return map[kind].reason;
}

char *em_status_json(const struct em_err *err)
{
	struct em_strbuf sb;
	struct em_strbuf msg;

	em_sb_init(&sb);
	em_sb_init(&msg);
	if (err->kind == EM_E_INTERNAL || err->kind == EM_E_CONFIG)
		em_sb_puts(&msg, "Internal error occurred: ");
	em_sb_puts(&msg, err->msg);
	em_sb_puts(&sb, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":");
	em_sb_json_str(&sb, msg.buf ? msg.buf : "");
	em_sb_printf(&sb, ",\"reason\":\"%s\",", em_status_reason(err->kind));
	em_sb_printf(&sb, "\"code\":%d}\n", em_status_code(err->kind));
	em_sb_free(&msg);
	return em_sb_steal(&sb);
}
