/* SPDX-License-Identifier: MIT */
/*
 * Environment names a secret may never take (DESIGN.md "Sealed secrets"): they change how the
 * loader, the shell, language runtimes or TLS behave, or belong to sbx or systemd. One list,
 * used where blobs are opened (keys/) and where policies are checked (policy/).
 */
#include "common/envnames.h"

#include <string.h>

#include "common/macro.h"

static const char *const reserved[] = {
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "OLDPWD",
    "TERM",
    "TMPDIR",
    "TMP",
    "TEMP",
    "HOSTNAME",
    "IFS",
    "ENV",
    "BASH_ENV",
    "PS1",
    "PS2",
    "PS4",
    "PROMPT_COMMAND",
    "SHELLOPTS",
    "BASHOPTS",
    "CDPATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TZDIR",
    "GLIBC_TUNABLES",
    "GCONV_PATH",
    "LOCPATH",
    "NLSPATH",
    "HOSTALIASES",
    "RES_OPTIONS",
    "LOCALDOMAIN",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONINSPECT",
    "PYTHONUSERBASE",
    "PERL5LIB",
    "PERL5OPT",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_DIR",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "MAIL",
    "DISPLAY",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "CREDENTIALS_DIRECTORY",
    "JOURNAL_STREAM",
};
static const char *const reserved_prefixes[] = {"LD_", "DYLD_", "MALLOC_", "LC_", "SBX_", "XDG_"};

bool sbx_envnames_reserved(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		if (strcmp(name, reserved[i]) == 0)
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(reserved_prefixes); i++)
		if (strncmp(name, reserved_prefixes[i], strlen(reserved_prefixes[i])) == 0)
			return true;
	return false;
}

const char *sbx_envnames_reserved_at(size_t i)
{
	return i < ARRAY_SIZE(reserved) ? reserved[i] : NULL;
}
