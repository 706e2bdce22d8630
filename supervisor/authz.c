/* SPDX-License-Identifier: MIT */
#include "supervisor/authz.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "common/macro.h"

/* Supplementary groups of the peer as the kernel recorded them at connect() (SO_PEERGROUPS):
 * no /proc read, so no race with the peer exiting and its pid being reused. More groups than
 * fit are read whole and cut to the first ARRAY_SIZE(groups): a rule naming a later group
 * does not match (fails closed). */
static void read_groups(int fd, struct sbx_peer *p)
{
	socklen_t len = sizeof(p->groups);
	_cleanup_free_ gid_t *all = NULL;

	p->n_groups = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) == 0) {
		p->n_groups = (int)(len / sizeof(gid_t));
		return;
	}
	if (errno != ERANGE || !(all = malloc(len)) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, all, &len) < 0)
		return;
	p->n_groups = (int)ARRAY_SIZE(p->groups);
	memcpy(p->groups, all, sizeof(p->groups));
}

int sbx_authz_peer(int fd, struct sbx_peer *ret)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(ret, 0, sizeof(*ret));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	ret->uid = cred.uid;
	ret->gid = cred.gid;
	ret->pid = cred.pid;
	read_groups(fd, ret);
	return 0;
}

static bool in_group(const struct sbx_peer *p, gid_t gid)
{
	if (p->gid == gid)
		return true;
	for (int i = 0; i < p->n_groups; i++)
		if (p->groups[i] == gid)
			return true;
	return false;
}

static bool rule_matches(const struct sbx_client_rule *r, const struct sbx_peer *p)
{
	for (size_t i = 0; i < r->n_uids; i++)
		if (r->uids[i] == p->uid)
			return true;
	for (size_t i = 0; i < r->n_gids; i++)
		if (in_group(p, r->gids[i]))
			return true;
	return false;
}

unsigned sbx_authz_ops(const struct sbx_config *cfg, const struct sbx_peer *peer)
{
	unsigned ops = 0;

	if (peer->uid == 0)
		return ~0U;
	for (size_t i = 0; i < cfg->n_clients; i++)
		if (rule_matches(&cfg->clients[i], peer))
			ops |= cfg->clients[i].ops;
	/* stats are for administrators only (DESIGN.md). */
	return ops & ~(1U << SBX_OP_STATS);
}

bool sbx_authz_policy(const struct sbx_config *cfg, const struct sbx_peer *peer,
		      const struct sbx_policy *p)
{
	bool by_rule = false, by_policy = false;

	if (peer->uid == 0)
		return true;
	/* --dev serves its invoking user like the administrator of that directory: the
	 * shipped policies' own "clients" (group sbx) do not narrow it. */
	if (cfg->dev && peer->uid == cfg->socket_uid)
		return true;
	for (size_t i = 0; i < cfg->n_clients && !by_rule; i++) {
		const struct sbx_client_rule *r = &cfg->clients[i];
		if (!rule_matches(r, peer) || !(r->ops & (1U << SBX_OP_RUN)))
			continue;
		if (!r->policies)
			by_rule = true;
		for (size_t j = 0; j < r->n_policies && !by_rule; j++)
			by_rule = strcmp(r->policies[j], p->name) == 0;
	}
	if (!by_rule)
		return false;
	/* The policy's own "clients" narrows further when it names anyone. */
	if (p->n_uids == 0 && p->n_groups == 0)
		return true;
	for (size_t i = 0; i < p->n_uids && !by_policy; i++)
		by_policy = p->uids[i] == peer->uid;
	for (size_t i = 0; i < p->n_groups && !by_policy; i++) {
		struct group *g = getgrnam(p->groups[i]);
		by_policy = g && in_group(peer, g->gr_gid);
	}
	return by_policy;
}

struct sbx_rate sbx_authz_run_rate(const struct sbx_config *cfg, const struct sbx_peer *peer)
{
	for (size_t i = 0; i < cfg->n_clients; i++)
		if (cfg->clients[i].has_run_rate && rule_matches(&cfg->clients[i], peer))
			return cfg->clients[i].run_rate;
	/* Root can stop sbxd anyway; its own tools (and the soak test, ~300 starts a second)
	 * are not held to the default. */
	if (peer->uid == 0)
		return (struct sbx_rate){0, 0};
	return cfg->run_rate;
}
