/* SPDX-License-Identifier: Apache-2.0 */
/* Intrusive doubly linked lists, after systemd's list.h: the daemon's jobs, workers, pending
 * polkit queries and private connections are each a short list. */
#pragma once

#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_PREPEND(name, head, item)                                  \
        do {                                                            \
                __typeof__(*(head)) **_head = &(head), *_item = (item); \
                if ((_item->name##_next = *_head))                      \
                        _item->name##_next->name##_prev = _item;        \
                _item->name##_prev = NULL;                              \
                *_head = _item;                                         \
        } while (0)

#define LIST_REMOVE(name, head, item)                                          \
        do {                                                                   \
                __typeof__(*(head)) **_head = &(head), *_item = (item);        \
                if (_item->name##_next)                                        \
                        _item->name##_next->name##_prev = _item->name##_prev;  \
                if (_item->name##_prev)                                        \
                        _item->name##_prev->name##_next = _item->name##_next;  \
                else if (*_head == _item)                                      \
                        *_head = _item->name##_next;                           \
                _item->name##_next = _item->name##_prev = NULL;                \
        } while (0)

#define LIST_FOREACH(name, i, head) for (__typeof__(*(head)) *i = (head); i; i = i->name##_next)

/* Safe against removal of i inside the loop. */
#define LIST_FOREACH_SAFE(name, i, n, head) \
        for (__typeof__(*(head)) *n, *i = (head); i && ((n = i->name##_next), 1); i = n)
