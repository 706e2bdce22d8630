/* SPDX-License-Identifier: MIT */
/*
 * Environment names with a meaning to the loader, the shell, language runtimes, TLS, proxies,
 * sbx or systemd (DESIGN.md "Sealed secrets"). One table for two rules:
 * - a secret may never take any of them (keys/ where blobs are opened, policy/ for the names a
 *   policy accepts): the payload's environment must not change meaning through a secret;
 * - a request may never set those marked CODE, whatever a policy lists (policy/validate.c):
 *   they change what code runs (LD_PRELOAD, GCONV_PATH, BASH_ENV, PYTHONPATH, ...), which
 *   TLS roots are trusted, or where traffic goes. The others select data (LANG, TZ, TERM, ...)
 *   and stay settable by a request.
 */
#include "common/envnames.h"

#include <string.h>

#include "common/macro.h"

#define DATA   0u
#define CODE   SBX_ENVNAME_CODE
#define PREFIX SBX_ENVNAME_PREFIX

static const struct {
	const char *name;
	unsigned flags;
} names[] = {
    {"PATH", CODE},
    {"HOME", CODE},
    {"USER", CODE},
    {"LOGNAME", CODE},
    {"SHELL", CODE},
    {"PWD", CODE},
    {"OLDPWD", CODE},
    {"TMPDIR", CODE},
    {"IFS", CODE},
    {"ENV", CODE},
    {"BASH_ENV", CODE},
    {"SHELLOPTS", CODE},
    {"BASHOPTS", CODE},
    {"PS4", CODE},
    {"PROMPT_COMMAND", CODE},
    {"CDPATH", CODE},
    {"GLIBC_TUNABLES", CODE},
    {"GCONV_PATH", CODE},
    {"LOCPATH", CODE},
    {"NLSPATH", CODE},
    {"HOSTALIASES", CODE},
    {"RES_OPTIONS", CODE},
    {"LOCALDOMAIN", CODE},
    {"TZDIR", CODE},
    {"NODE_OPTIONS", CODE},
    {"NODE_PATH", CODE},
    {"PYTHONPATH", CODE},
    {"PYTHONHOME", CODE},
    {"PYTHONSTARTUP", CODE},
    {"PYTHONINSPECT", CODE},
    {"PYTHONUSERBASE", CODE},
    {"PERL5LIB", CODE},
    {"PERL5OPT", CODE},
    {"PERLLIB", CODE},
    {"RUBYOPT", CODE},
    {"RUBYLIB", CODE},
    {"JAVA_TOOL_OPTIONS", CODE},
    {"JDK_JAVA_OPTIONS", CODE},
    {"_JAVA_OPTIONS", CODE},
    {"CLASSPATH", CODE},
    {"SSL_CERT_FILE", CODE},
    {"SSL_CERT_DIR", CODE},
    {"CURL_CA_BUNDLE", CODE},
    {"REQUESTS_CA_BUNDLE", CODE},
    {"HTTP_PROXY", CODE},
    {"HTTPS_PROXY", CODE},
    {"ALL_PROXY", CODE},
    {"NO_PROXY", CODE},
    {"http_proxy", CODE},
    {"https_proxy", CODE},
    {"all_proxy", CODE},
    {"no_proxy", CODE},
    {"GIT_SSH", CODE},
    {"GIT_SSH_COMMAND", CODE},
    {"GIT_EXEC_PATH", CODE},
    {"GIT_DIR", CODE},
    {"NOTIFY_SOCKET", CODE},
    {"LISTEN_FDS", CODE},
    {"LISTEN_PID", CODE},
    {"LISTEN_FDNAMES", CODE},
    {"CREDENTIALS_DIRECTORY", CODE},
    {"JOURNAL_STREAM", CODE},
    {"TERM", DATA},
    {"TMP", DATA},
    {"TEMP", DATA},
    {"HOSTNAME", DATA},
    {"PS1", DATA},
    {"PS2", DATA},
    {"LANG", DATA},
    {"LANGUAGE", DATA},
    {"TZ", DATA},
    {"EDITOR", DATA},
    {"VISUAL", DATA},
    {"PAGER", DATA},
    {"MAIL", DATA},
    {"DISPLAY", DATA},
    {"XAUTHORITY", DATA},
    {"DBUS_SESSION_BUS_ADDRESS", DATA},
    {"LD_", CODE | PREFIX},
    {"DYLD_", CODE | PREFIX},
    {"MALLOC_", CODE | PREFIX},
    {"GIT_CONFIG_", CODE | PREFIX},
    {"LC_", PREFIX},
    {"SBX_", PREFIX},
    {"XDG_", PREFIX},
};

static bool matches(size_t i, const char *name)
{
	if (names[i].flags & PREFIX)
		return strncmp(name, names[i].name, strlen(names[i].name)) == 0;
	return strcmp(name, names[i].name) == 0;
}

bool sbx_envnames_reserved(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (matches(i, name))
			return true;
	return false;
}

bool sbx_envnames_forbidden(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if ((names[i].flags & CODE) && matches(i, name))
			return true;
	return false;
}

const char *sbx_envnames_at(size_t i, unsigned *ret_flags)
{
	if (i >= ARRAY_SIZE(names))
		return NULL;
	*ret_flags = names[i].flags;
	return names[i].name;
}
