/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * alloc.c - node space: the free map of each volume.
 *
 * Allocation sets a bit in a free-map node (a cache node, locked
 * exclusive and modified like any other, so its CRC is sealed at
 * write-back) and hands out the node zeroed.  Frees are deferred: a freed
 * node stays marked used until the next hl_btree_sync(), which clears the
 * bits before writing, so a node is only reused once the tree that no
 * longer points to it is on its way to disk.  Volumes are used in turn.
 *
 * Free-map locks come after every tree lock (an allocation happens while
 * a writer holds tree nodes), and nothing else is locked under them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "btree_internal.h"

static inline uint64_t
slot_off(struct hl_btree *bt, int vol, uint64_t slot)
{
	uint32_t bs = hl_mount_buffer_size(bt->m);

	return HL_OFF_MAKE((uint64_t)vol, bs + slot * bt->ns);
}

bool
hl__fmap_is_map_node(struct hl_btree *bt, uint64_t off)
{
	struct bt_fmap *f;
	int vol = (int)HL_OFF_VOL(off);

	if (vol >= bt->nvol)
		return false;
	f = &bt->fmap[vol];
	return off >= f->first && off < f->first + (uint64_t)f->nnodes * bt->ns;
}

/* Reference and lock free-map node k of volume vol. */
static struct hl_node *
fmap_node(struct hl_btree *bt, struct hl_trans *t, int vol, uint32_t k, bool ex,
    int *errorp)
{
	struct hl_node *n;

	n = hl_get_node(
	    t, bt->fmap[vol].first + (uint64_t)k * bt->ns, false, errorp);
	if (n == NULL)
		return NULL;
	if (ex)
		hl_lock_ex_ident(hl_node_lock(n), "fmap_ex");
	else
		hl_lock_sh_ident(hl_node_lock(n), "fmap_sh");
	if (bt_type(hl_node_data(n)) != HL_NODE_RAW) {
		fprintf(stderr,
		    "hammerlock: free map node %#llx has type %u, not RAW\n",
		    (unsigned long long)hl_node_offset(n),
		    bt_type(hl_node_data(n)));
		hl_unlock(hl_node_lock(n));
		hl_rel_node(n);
		*errorp = EIO;
		return NULL;
	}
	return n;
}

static void
fmap_put(struct hl_node *n)
{
	hl_unlock(hl_node_lock(n));
	hl_rel_node(n);
}

int
hl__fmap_open(struct hl_btree *bt)
{
	struct hl_trans t;
	int vol, error = 0;

	bt->bits = (bt->ns - HL_NODE_HDR_SIZE) * 8;
	bt->fmap = calloc((size_t)bt->nvol, sizeof(*bt->fmap));
	if (bt->fmap == NULL)
		return ENOMEM;
	hl_trans_init(&t, bt->m);
	for (vol = 0; vol < bt->nvol && error == 0; vol++) {
		struct bt_fmap *f = &bt->fmap[vol];
		const struct hl_volume_header *vh;
		struct hl_volume *v = hl_get_volume(bt->m, vol, &error);

		if (v == NULL)
			break;
		vh = hl_volume_header(v);
		f->first = vh->freemap_offset;
		f->nslots = (vh->vol_size - vh->buffer_size) / bt->ns;
		f->ibase = f->ihint = f->nslots - f->nslots / 8;
		f->nnodes = (uint32_t)((f->nslots + bt->bits - 1) / bt->bits);
		hl_rel_volume(v);
		pthread_mutex_init(&f->lock, NULL);
		if (f->first == 0 ||
		    (uint64_t)f->nnodes * bt->ns > vh->freemap_size) {
			fprintf(stderr,
			    "hammerlock: volume %d has no usable free map "
			    "(offset %#llx, %llu bytes)\n",
			    vol, (unsigned long long)vh->freemap_offset,
			    (unsigned long long)vh->freemap_size);
			error = EINVAL;
			break;
		}
		/* Count the free slots. */
		for (uint32_t k = 0; k < f->nnodes && error == 0; k++) {
			struct hl_node *n =
			    fmap_node(bt, &t, vol, k, false, &error);
			uint8_t *map;
			uint64_t s0 = (uint64_t)k * bt->bits;

			if (n == NULL)
				break;
			map = HL_NODE_PAYLOAD(hl_node_data(n));
			for (uint64_t b = 0; b < bt->bits && s0 + b < f->nslots;
			     b++)
				if ((map[b / 8] & (1u << (b % 8))) == 0)
					f->nfree++;
			fmap_put(n);
		}
	}
	if (error)
		hl__fmap_close(bt);
	return error;
}

void
hl__fmap_close(struct hl_btree *bt)
{
	if (bt->fmap == NULL)
		return;
	for (int vol = 0; vol < bt->nvol; vol++)
		if (bt->fmap[vol].nnodes != 0 || bt->fmap[vol].first != 0)
			pthread_mutex_destroy(&bt->fmap[vol].lock);
	free(bt->fmap);
	bt->fmap = NULL;
}

/* Find and set a clear bit in volume vol; f->lock held. */
static int
fmap_take(struct hl_btree *bt, struct hl_trans *t, int vol, bool internal,
    uint64_t *slotp)
{
	struct bt_fmap *f = &bt->fmap[vol];
	uint64_t *hint = internal ? &f->ihint : &f->hint;
	uint64_t tried = 0, slot = *hint % f->nslots;
	int error = 0;

	while (tried < f->nslots) {
		uint32_t k = (uint32_t)(slot / bt->bits);
		uint64_t s0 = (uint64_t)k * bt->bits, b;
		struct hl_node *n = fmap_node(bt, t, vol, k, true, &error);
		uint8_t *map;

		if (n == NULL)
			return error;
		map = HL_NODE_PAYLOAD(hl_node_data(n));
		for (b = slot - s0; b < bt->bits && s0 + b < f->nslots; b++) {
			tried++;
			if (map[b / 8] & (1u << (b % 8)))
				continue;
			if ((error = hl_modify_node(n)) == 0) {
				map[b / 8] |= (uint8_t)(1u << (b % 8));
				hl_modify_node_done(n);
				*slotp = s0 + b;
				*hint = s0 + b + 1;
				f->nfree--;
			}
			fmap_put(n);
			return error;
		}
		fmap_put(n);
		slot = s0 + b < f->nslots ? s0 + b : 0;
	}
	return ENOSPC;
}

int
hl__node_alloc(struct hl_btree *bt, struct hl_trans *t, unsigned type,
    uint64_t parent, struct hl_node **np)
{
	uint32_t start =
	    atomic_fetch_add_explicit(&bt->next_vol, 1, memory_order_relaxed);
	uint64_t slot = 0;
	struct hl_node *n;
	int error = ENOSPC, vol = 0;

	for (int i = 0; i < bt->nvol && error == ENOSPC; i++) {
		struct bt_fmap *f;

		vol = (int)((start + (uint32_t)i) % (uint32_t)bt->nvol);
		f = &bt->fmap[vol];
		pthread_mutex_lock(&f->lock);
		error = f->nfree == 0 ? ENOSPC
				      : fmap_take(bt, t, vol,
					    type == HL_NODE_INTERNAL, &slot);
		pthread_mutex_unlock(&f->lock);
	}
	if (error)
		return error;
	n = hl_get_node(t, slot_off(bt, vol, slot), true, &error);
	if (n == NULL) {
		/* Never used, never pointed to: free the slot at once. */
		hl__node_free_now(bt, slot_off(bt, vol, slot));
		return error;
	}
	if ((error = hl_modify_node(n)) == 0) {
		void *d = hl_node_data(n);

		bt_set_type(d, type);
		bt_set_count(d, 0);
		bt_set_parent(d, parent);
		hl_modify_node_done(n);
	}
	if (error) {
		hl_rel_node(n);
		return error;
	}
	bt_stat(&BT_ST(bt)->allocs);
	*np = n;
	return 0;
}

/* Queue a free for the next sync. */
static void
pend_push(struct hl_btree *bt, uint64_t off)
{
	pthread_mutex_lock(&bt->pend_lock);
	if (bt->npend == bt->cappend) {
		size_t ncap = bt->cappend ? 2 * bt->cappend : 64;
		uint64_t *p = realloc(bt->pend, ncap * sizeof(*p));

		if (p == NULL) {
			/* The node leaks (stays marked used); say so. */
			pthread_mutex_unlock(&bt->pend_lock);
			fprintf(stderr,
			    "hammerlock: no memory to free node %#llx: its "
			    "space stays used\n",
			    (unsigned long long)off);
			return;
		}
		bt->pend = p;
		bt->cappend = ncap;
	}
	bt->pend[bt->npend++] = off;
	pthread_mutex_unlock(&bt->pend_lock);
}

void
hl__node_free(struct hl_btree *bt, uint64_t off)
{
	pend_push(bt, off);
	bt_stat(&BT_ST(bt)->frees);
}

/* Clear off's bit in the free map now.  0 or an errno. */
static int
fmap_clear(struct hl_btree *bt, struct hl_trans *t, uint64_t off)
{
	int vol = (int)HL_OFF_VOL(off), error = 0;
	uint32_t bs = hl_mount_buffer_size(bt->m);
	uint64_t slot = (HL_OFF_SHORT(off) - bs) / bt->ns;
	struct bt_fmap *f = &bt->fmap[vol];
	uint64_t b = slot % bt->bits;
	struct hl_node *fm;

	pthread_mutex_lock(&f->lock);
	fm = fmap_node(bt, t, vol, (uint32_t)(slot / bt->bits), true, &error);
	if (fm != NULL) {
		uint8_t *map = HL_NODE_PAYLOAD(hl_node_data(fm));

		if ((error = hl_modify_node(fm)) == 0) {
			map[b / 8] &= (uint8_t) ~(1u << (b % 8));
			hl_modify_node_done(fm);
			f->nfree++;
			if (slot >= f->ibase && slot < f->ihint)
				f->ihint = slot;
			else if (slot < f->ibase && slot < f->hint)
				f->hint = slot;
		}
		fmap_put(fm);
	}
	pthread_mutex_unlock(&f->lock);
	return error;
}

void
hl__node_free_now(struct hl_btree *bt, uint64_t off)
{
	struct hl_trans t;

	hl_trans_init(&t, bt->m);
	if (fmap_clear(bt, &t, off) != 0)
		hl__node_free(bt, off); /* at the next sync, then */
}

int
hl__fmap_apply_pending(struct hl_btree *bt)
{
	struct hl_trans t;
	uint64_t *list;
	size_t n, i;
	int error = 0;

	pthread_mutex_lock(&bt->pend_lock);
	list = bt->pend;
	n = bt->npend;
	bt->pend = NULL;
	bt->npend = bt->cappend = 0;
	pthread_mutex_unlock(&bt->pend_lock);
	hl_trans_init(&t, bt->m);
	for (i = 0; i < n; i++) {
		error = fmap_clear(bt, &t, list[i]);
		if (error) {
			/* Keep the rest for the next sync (not counted again).
			 */
			for (; i < n; i++)
				pend_push(bt, list[i]);
			break;
		}
	}
	free(list);
	return error;
}

int
hl__fmap_test(struct hl_btree *bt, uint64_t off, bool *used)
{
	struct hl_trans t;
	int vol = (int)HL_OFF_VOL(off), error;
	uint32_t bs = hl_mount_buffer_size(bt->m);
	uint64_t slot = (HL_OFF_SHORT(off) - bs) / bt->ns, b;
	struct hl_node *fm;

	hl_trans_init(&t, bt->m);
	fm = fmap_node(bt, &t, vol, (uint32_t)(slot / bt->bits), false, &error);
	if (fm == NULL)
		return error;
	b = slot % bt->bits;
	*used =
	    (((uint8_t *)HL_NODE_PAYLOAD(hl_node_data(fm)))[b / 8] >> (b % 8)) &
	    1;
	fmap_put(fm);
	return 0;
}
