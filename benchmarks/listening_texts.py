"""The texts benchmarks/listening.py speaks: plain English sentences with no punctuation inside
them (nothing a reader would pause at, so any silence inside one is the server's doing), 6 to 40
words, and the sentences that follow them when they start a longer text.

The first three are the ones a quick run takes: the fox sentence a new user tries first, the
lighthouse sentence listeners heard broken, and a 27-word sentence.
"""

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Every morning the lighthouse keeper climbed the narrow stairs to polish the great lamp before the fishing boats "
    "came home.",
    "My grandmother kept a small garden behind the house where she grew tomatoes and beans and the sweetest "
    "strawberries I have ever tasted in my whole life.",
    "Your order has shipped and should arrive on Thursday afternoon.",
    "I can help you reset your password if you tell me the email address on your account.",
    "The train to the airport leaves every twenty minutes from the second platform.",
    "She opened the old wooden box and found a stack of letters tied with a faded blue ribbon.",
    "Please hold while I look that up for you.",
    "The museum will stay open late on Friday evenings throughout the summer months.",
    "After the storm had passed the children ran outside to splash in the puddles that covered the empty street "
    "below their apartment.",
    "Turn left at the next traffic light and the bakery will be on your right.",
    "Scientists have discovered a new species of frog living high in the cloud forests of the northern mountains.",
    "We recommend charging the battery fully before you use the device for the first time.",
    "The committee will announce its decision at the end of next week.",
    "He walked slowly along the beach at sunset watching the waves roll in and thinking about everything that had "
    "happened since he left the city.",
    "Your appointment with the dentist is confirmed for nine thirty tomorrow morning.",
    "The recipe calls for two cups of flour and a pinch of salt.",
    "Most of the birds that visit the park in winter fly south again when the days grow longer and the ice on the "
    "lake begins to melt.",
    "I did not find any flights that match those dates.",
    "The library downstairs has a quiet reading room with large windows that look out over the river and the old "
    "stone bridge where the fishermen gather every evening in the warmer months of the year.",
    "Thank you so much for calling.",
    "The engineers spent three months testing the bridge before they let the first cars drive across it.",
    "A gentle breeze carried the smell of fresh bread from the village bakery all the way up the hill to the "
    "farmhouse.",
    "Your current balance is lower than the amount you asked to transfer.",
    "The ferry crossed the bay in the early light while the passengers drank hot coffee on the upper deck.",
    "Nobody expected the small team from the mountain town to win the national championship that year.",
    "The printer is out of paper.",
    "When the concert finally began the whole crowd fell silent and listened to the first notes drifting across "
    "the dark field under a sky full of stars.",
    "I have added milk and eggs and a loaf of bread to your shopping list.",
    "The old clock in the hallway stopped at exactly midnight on the night my grandfather was born.",
    "Heavy rain is expected across the region tonight with strong winds along the coast.",
    "The painter mixed the colors on a wooden board and stepped back to look at the canvas once more before "
    "adding the final touches to the sky above the harbor where the small boats rocked gently in the evening tide.",
)

#: what follows a sentence when it starts a longer text: two or three of these, in turn
FOLLOWERS = (
    "It was a bright and cold day.",
    "Nobody said a word for a long time.",
    "Then the lights came on again.",
    "We will send you a reminder the day before.",
    "Let me know if there is anything else I can do.",
    "The rest of the evening was quiet.",
    "Everyone agreed that it was the best one yet.",
    "You can change this at any time in the settings.",
)

#: a voice agent's typical short reply, for first speech
AGENT_REPLY = "Sure, I can help with that. What time works best for you?"


def longer_text(index: int) -> str:
    """Sentence `index` followed by two or three followers, so that it starts a longer text."""
    count = 2 + index % 2
    followers = [FOLLOWERS[(index + n) % len(FOLLOWERS)] for n in range(count)]
    return " ".join([SENTENCES[index], *followers])
