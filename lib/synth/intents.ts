/**
 * The customer-service domain of the synthetic data: 12 intents, each with
 * paraphrase phrases. A phrase starting with `~` is a verb phrase that gets a
 * request prefix ("i want to", "how do i", ...); others are whole sentences.
 * Slots in braces ({product}, {order}, {date}, {amount}, {person}) become
 * entities. The first phrases of each intent are the "seen" ones a small
 * labeled training set draws from; the rest are held-out paraphrases that
 * only the test set and the unlabeled corpus use. Likewise for the synonyms
 * that fill the shared FRAMES. Plain data.
 */

export interface IntentSpec {
  name: string;
  /** Synonymous verbs and nouns of the intent, used in the shared {@link FRAMES}. */
  verbs: readonly string[];
  nouns: readonly string[];
  phrases: readonly string[];
  /** What an agent answers; unlabeled conversation lines pair a message with one. */
  replies: readonly string[];
}

export const INTENTS: readonly IntentSpec[] = [
  { name: 'billing_question', verbs: ['explain', 'clarify', 'review', 'go over', 'break down'],
    nouns: ['invoice', 'bill', 'statement', 'latest charges', 'billing history'],
    phrases: [
    'why was i charged {amount} on {date}',
    '~understand a charge of {amount} on my card',
    'my invoice from {date} looks wrong',
    'there is a charge of {amount} on my bill that i do not recognize',
    'i was billed twice for the same month',
    '~dispute a charge of {amount}',
    'what is this {amount} fee on my statement',
    'my bill went up to {amount} this month',
    'i see an extra charge on my invoice',
    '~get a copy of my invoice from {date}',
    'the amount on my bill is higher than expected',
  ], replies: [
    'i have reviewed the charges on your bill and the invoice details',
    'let me explain the charge on your latest invoice',
    'i can see the billing statement for your account and the fee in question',
  ] },
  { name: 'refund_request', verbs: ['refund', 'reimburse', 'pay back', 'credit back', 'return the money for'],
    nouns: ['purchase', 'payment', 'last order', 'deposit', 'overcharge'],
    phrases: [
    '~get a refund for the {product}',
    'i want my money back for order {order}',
    'please refund the {amount} for the {product}',
    '~be reimbursed for the {product}',
    'when will i receive my refund for order {order}',
    '~return the {product} for a full refund',
    'i never got the refund of {amount}',
    'can you send my money back',
    'i am owed a refund of {amount}',
    '~request reimbursement for order {order}',
    'i returned the {product} on {date} but got no money back',
  ], replies: [
    'your refund has been processed and the money will be back on your card in 5 days',
    'i have issued a refund for your purchase',
    'the refund will appear on your statement soon',
  ] },
  { name: 'cancel_subscription', verbs: ['cancel', 'terminate', 'discontinue', 'end', 'stop'],
    nouns: ['subscription', 'membership', 'contract', 'auto renewal', 'recurring plan'],
    phrases: [
    '~cancel my subscription',
    'please cancel my monthly plan before {date}',
    '~stop my membership',
    'i no longer want to be a member',
    '~unsubscribe from the monthly plan',
    '~turn off auto renewal',
    'cancel my subscription effective {date}',
    '~terminate my contract',
    'do not renew my membership next month',
    '~discontinue my plan, i do not use it anymore',
    'i want to quit the service',
  ], replies: [
    'your subscription has been cancelled and will not renew',
    'i have cancelled your membership as requested',
    'you will not be charged for the subscription again',
  ] },
  { name: 'shipping_status', verbs: ['track', 'locate', 'trace', 'find', 'follow'],
    nouns: ['package', 'parcel', 'shipment', 'delivery', 'consignment'],
    phrases: [
    'where is my order {order}',
    'has my {product} shipped yet',
    'when will order {order} arrive',
    '~track my package',
    'my delivery was supposed to come on {date}',
    'the tracking for {order} has not updated',
    'is my parcel out for delivery',
    'how long does shipping take for the {product}',
    '~check the delivery status of order {order}',
    'my package is late',
    'the courier still has not delivered the {product}',
  ], replies: [
    'your package is in transit and the tracking shows delivery soon',
    'the courier expects to deliver your order tomorrow',
    'here is the tracking number for your shipment',
  ] },
  { name: 'password_reset', verbs: ['reset', 'recover', 'restore', 'regain', 'unlock'],
    nouns: ['password', 'login', 'credentials', 'passcode', 'pin'],
    phrases: [
    '~reset my password',
    'i forgot my password',
    'the password reset link is not working',
    '~change my login password',
    'i can not log in to my account',
    'i never received the password reset email',
    '~recover access to my account',
    'my login credentials do not work',
    '~set a new password',
    'it says my password is incorrect',
    'i am locked out after too many login attempts',
  ], replies: [
    'i have sent a password reset link to your email',
    'please use the link to choose a new password and log in',
    'your login has been unlocked, try signing in again',
  ] },
  { name: 'update_address', verbs: ['update', 'change', 'edit', 'correct', 'modify'],
    nouns: ['address', 'postcode', 'street name', 'apartment number', 'zip code'],
    phrases: [
    '~change my shipping address',
    '~update the delivery address on order {order}',
    'i moved and need to change my address',
    'please send the {product} to my new address',
    '~edit my billing address',
    'my address on file is wrong',
    'i need the order shipped to a different address',
    '~add a new address to my account',
    'can you correct the street name on my address',
    'i am relocating on {date}, please update my address',
  ], replies: [
    'i have updated the shipping address on your account',
    'the new address has been saved for future deliveries',
    'your order will now ship to the corrected address',
  ] },
  { name: 'update_payment', verbs: ['replace', 'swap', 'switch', 'add', 'renew'],
    nouns: ['credit card', 'payment method', 'debit card', 'bank details', 'card details'],
    phrases: [
    '~update my credit card',
    '~change my payment method',
    'my card expired, how do i add a new one',
    '~add a new debit card to my account',
    'i want to pay with paypal instead',
    '~remove my old card',
    'my payment was declined',
    '~switch to a different bank account for payments',
    'the card on file needs to be replaced',
    'can i use a gift card to pay',
  ], replies: [
    'your new card has been added as the payment method',
    'i have updated the payment details on file',
    'the old card was removed and the new one saved',
  ] },
  { name: 'damaged_item', verbs: ['report', 'complain about', 'flag', 'exchange', 'send back'],
    nouns: ['broken item', 'damaged product', 'cracked screen', 'defective part', 'faulty unit'],
    phrases: [
    'my {product} arrived broken',
    'the {product} in order {order} is damaged',
    'the box was crushed and the {product} is cracked',
    '~report a defective {product}',
    'the {product} stopped working on {date}',
    'i received a faulty {product}',
    'the screen on my {product} is shattered',
    'parts are missing from the {product}',
    '~get a replacement for the broken {product}',
    'the {product} came scratched and dented',
  ], replies: [
    'i am sorry the item arrived damaged, a replacement is on the way',
    'please send a photo of the broken item and we will replace it',
    'we will ship a new one at no cost since it was defective',
  ] },
  { name: 'upgrade_plan', verbs: ['upgrade', 'boost', 'enhance', 'expand', 'level up'],
    nouns: ['plan', 'tier', 'storage', 'bundle', 'quota'],
    phrases: [
    '~upgrade to the premium plan',
    '~move to a higher tier',
    'what do i get if i upgrade my plan',
    '~switch my account to the business plan',
    'i want more storage, can i upgrade',
    'how much is the pro plan per month',
    '~add more users to my plan',
    'is there a better plan than the one i have',
    '~upgrade my membership before {date}',
    'i would like the annual premium package',
  ], replies: [
    'your account has been upgraded to the premium plan',
    'the upgrade gives you more storage and features',
    'you are now on the higher tier plan',
  ] },
  { name: 'product_availability', verbs: ['reserve', 'preorder', 'buy', 'order', 'hold'],
    nouns: ['size', 'color option', 'favorite model', 'wishlist item', 'next purchase'],
    phrases: [
    'is the {product} in stock',
    'when will the {product} be available again',
    'do you still sell the {product}',
    '~find out if the {product} is back in stock',
    'is the {product} available in blue',
    'the {product} shows sold out, will you restock it',
    '~preorder the new {product}',
    'do you have the {product} in a larger size',
    'can i buy the {product} in stores',
    'how many units of the {product} do you have left',
  ], replies: [
    'that item is out of stock right now but will be restocked next week',
    'yes, that product is available and in stock now',
    'we expect new inventory of that item to arrive soon',
  ] },
  { name: 'speak_to_agent', verbs: ['talk to', 'speak with', 'call', 'reach', 'contact'],
    nouns: ['account manager', 'support rep', 'supervisor', 'advisor', 'human agent'],
    phrases: [
    '~talk to a real person',
    '~speak with a human agent',
    'please connect me to customer support',
    'i need to talk to a manager',
    'is there a phone number i can call',
    '~chat with someone from your team',
    'transfer me to a live representative',
    'i do not want the bot, get me an agent',
    '~reach the supervisor {person}',
    'can {person} from support call me back',
  ], replies: [
    'i am a human agent and happy to help',
    'let me transfer you to a live representative',
    'a support specialist will call you shortly',
  ] },
  { name: 'delete_account', verbs: ['delete', 'erase', 'remove', 'wipe', 'purge'],
    nouns: ['account', 'profile', 'personal data', 'user data', 'records'],
    phrases: [
    '~delete my account',
    '~close my account permanently',
    'please remove all my personal data',
    'i want my profile erased',
    '~deactivate my account',
    'how do i get rid of my account completely',
    'erase my information from your system',
    '~shut down my account and delete my history',
    'i want to be forgotten under gdpr',
    'remove my account and email from your records',
  ], replies: [
    'your account and personal data have been permanently deleted',
    'we have closed your account and erased your information',
    'your profile will be removed within 30 days',
  ] },
];

/**
 * Frames shared by every intent, filled with an intent's {v}erb and {n}oun:
 * the frame says nothing about the intent, the words do. The labeled train
 * split only ever uses each intent's first `seenWords` verbs and nouns, so
 * the test split's synonyms are words a classifier never saw labeled; MLM
 * pretraining sees them all in the same frames (distributional similarity).
 */
export const FRAMES = [
  '~{v} my {n}',
  'please {v} my {n} before {date}',
  'i tried to {v} my {n} but it did not work',
  'can someone {v} my {n} today',
  'how long does it take to {v} my {n}',
  'who can {v} my {n} for me',
  'i need someone to {v} my {n}, it is about order {order}',
  'why is it so hard to {v} my {n}',
  '~{v} my {n} as soon as possible',
  'is there a way to {v} my {n} online',
  'last time you did not {v} my {n}',
  'my friend {person} said you can {v} my {n}',
] as const;

/** Prefixes for `~` verb phrases. */
export const REQUEST_PREFIXES = [
  'i want to', 'i would like to', 'i need to', 'can you help me', 'how do i', 'how can i', 'please help me',
  'is it possible to', 'could you help me', 'i am trying to', 'i wanna', 'can i',
] as const;

export const OPENERS = [
  '', '', '', 'hi', 'hello', 'hey there', 'good morning', 'hi team', 'hello support', 'excuse me', 'quick question',
  'hi, this is {person}', 'hey, {person} here', 'good evening',
] as const;

export const CLOSERS = [
  '', '', '', 'thanks', 'thank you', 'thanks in advance', 'please', 'asap', 'this is urgent', 'appreciate it', 'cheers',
  'any help is appreciated', 'thank you so much',
] as const;

/** Joins a second phrase of the same intent (unlabeled messages repeat themselves, as customers do). */
export const CONNECTORS = ['.', ', also', 'and', '. basically', '. i mean', '. in other words', ', so', '. again,'] as const;

export const FILLERS = ['um', 'uh', 'like', 'basically', 'honestly', 'actually', 'so', 'well', 'just', 'literally'] as const;
