/*
 * native_sample - a sample ecelerity native module.
 *
 * It registers an option (greeting, and limit), a memory type for its
 * persistent state, a provider of the config.generation_committed hook that
 * counts the configuration generations committed, and a console command:
 *
 *     native_sample status
 *
 * Build (see README.md):
 *
 *     cc -shared -fPIC -O2 -I ../include -o native_sample.so native_sample.c
 */
#include <stdio.h>
#include <string.h>

#include "ecelerity_module.h"

static const ec_host_api *host;
static int opt_greeting, opt_limit, mt_state;
static struct sample_state *state_p;

/* The persistent state: kept by the host across reloads of the module. */
struct sample_state {
	uint64_t commits; /* generations committed since the first load */
	uint64_t loads;   /* versions of the module that used this state */
};

/* A provider of config.generation_committed(uint64 gen). */
static ec_word on_commit(void *closure, ec_word gen) {
	struct sample_state *st = closure;
	(void)gen;
	st->commits++;
	return 0;
}

static int conf_setup(ec_ctx ctx, void *state, uint32_t state_version) {
	struct sample_state *st = state;
	(void)state_version; /* only version 1 exists */
	opt_greeting = host->option_register(ctx, "greeting", EC_OPT_STRING, "hello");
	opt_limit = host->option_register(ctx, "limit", EC_OPT_INT, "10");
	mt_state = host->memtype_register(ctx, "native_sample:state", sizeof(struct sample_state));
	if (opt_greeting < 0 || opt_limit < 0 || mt_state < 0)
		return -1;
	if (st == NULL) {
		st = host->mem_alloc(ctx, mt_state, 0);
		if (st == NULL)
			return -1;
		memset(st, 0, sizeof *st);
		if (host->state_set(ctx, st) != EC_OK)
			return -1;
	}
	st->loads++;
	state_p = st;
	host->log(ctx, EC_LOG_INFO, "native_sample set up");
	return host->hook_register(ctx, "config.generation_committed", EC_HOOK_LAST, (ec_hook_fn)on_commit, st);
}

static int control(ec_ctx ctx, int argc, const char *const *argv, ec_reply reply) {
	char greeting[128], line[256];
	int64_t limit = 0;
	if (argc != 1 || strcmp(argv[0], "status") != 0) {
		host->reply_write(reply, "usage: native_sample status\n");
		return 1;
	}
	if (host->option_string(ctx, opt_greeting, greeting, sizeof greeting) < 0 ||
	    host->option_int(ctx, opt_limit, &limit) != EC_OK)
		return 1;
	snprintf(line, sizeof line, "%s (limit %lld); %llu commits seen; loaded %llu times\n", greeting,
		 (long long)limit, (unsigned long long)state_p->commits, (unsigned long long)state_p->loads);
	host->reply_write(reply, line);
	return 0;
}

static const ec_module_info info = {
	.abi_version = EC_MODULE_ABI_VERSION,
	.state_version = 1,
	.name = "native_sample",
	.description = "A sample native module: an option, a memory type, a hook and a command",
	.singleton = 1,
	.conf_setup = conf_setup,
	.control = control,
};

const ec_module_info *ec_module_entry(const ec_host_api *h, uint32_t host_abi) {
	if (host_abi < EC_MODULE_ABI_VERSION)
		return NULL;
	host = h;
	return &info;
}
